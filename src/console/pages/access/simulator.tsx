/** @jsxImportSource hono/jsx */
import type { ConsoleSession } from "../../session.ts";
import type { User } from "../types.ts";
import { ApiForm, Field, Refusal } from "../../views/components.tsx";
import { AccessPage } from "./layout.tsx";

export async function SimulatorPage({ session }: { session: ConsoleSession }) {
  const [users, actions] = await Promise.all([
    session.can("GET /api/v1/users") ? session.api.get<{ users: User[] }>("/api/v1/users") : undefined,
    session.api.get<{ actions: { action?: string }[] }>("/api/v1/actions"),
  ]);
  const accountId = session.principal.accountId;
  return (
    <AccessPage session={session} tab="simulator">
      <section class="card">
        <h2>May this user do this?</h2>
        <p class="muted">
          Evaluates the user's policies (their own and their groups') for one request, and names the statements that
          decide it.
        </p>
        {session.can("POST /api/v1/policies/simulate") ? (
          <ApiForm api="/api/v1/policies/simulate" then="show:simulation" submit="Simulate" testid="simulator">
            <div class="grid two">
              <Field label="User">
                {users?.ok ? (
                  <select name="userName">
                    {users.data.users.map((u) => (
                      <option value={u.name}>{u.name}</option>
                    ))}
                  </select>
                ) : (
                  <input name="userName" required />
                )}
              </Field>
              <Field label="Action">
                <input name="action" list="kiln-actions" required placeholder="cr:PushRepository" />
              </Field>
              <Field label="Region">
                <select name="region" data-omit>
                  {session.regions.map((r) => (
                    <option value={r} selected={r === session.defaultRegion}>
                      {r}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Resource" hint="namespace/repository, a namespace, or a full acs: resource name">
                <input name="target" data-omit required placeholder="alitest1/test" />
              </Field>
            </div>
            <input type="hidden" name="resource" data-template={`acs:cr:{region}:${accountId}:repository/{target}`} />
            <input type="hidden" name="context.cr:Region" data-template="{region}" />
          </ApiForm>
        ) : (
          <Refusal
            status={403}
            error={{
              error: "AccessDenied",
              message: "",
              action: "ram:SimulatePolicy",
              resource: `acs:ram:*:${accountId}:policy/*`,
              decision: "ImplicitDeny",
            }}
          />
        )}
        <datalist id="kiln-actions">
          {actions.ok &&
            [...new Set(actions.data.actions.flatMap((a) => (a.action ? [a.action] : [])))].map((a) => (
              <option value={a} />
            ))}
        </datalist>
      </section>
    </AccessPage>
  );
}
