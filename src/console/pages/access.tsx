/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { ApiButton, ApiForm, Empty, Field, Refusal, Time } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";
import type { Group, Policy, User } from "./types.ts";

type Tab = "users" | "groups" | "policies" | "simulator";

function AccessPage({ session, tab, children }: { session: ConsoleSession; tab: Tab; children: Child }) {
  const tabs: [Tab, string][] = [
    ["users", "Users"],
    ["groups", "Groups"],
    ["policies", "Policies"],
    ["simulator", "Simulator"],
  ];
  return (
    <Page title="Access control" session={session} section="access">
      <h1>Access control</h1>
      <nav class="tabs">
        {tabs.map(([id, label]) => (
          <a href={`/console/access/${id}`} class={id === tab ? "current" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {children}
    </Page>
  );
}

export async function UsersPage({ session }: { session: ConsoleSession }) {
  const listed = await session.api.get<{ users: User[] }>("/api/v1/users");
  return (
    <AccessPage session={session} tab="users">
      {!listed.ok ? (
        <Refusal status={listed.status} error={listed.error} what="Listing users" />
      ) : listed.data.users.length === 0 ? (
        <Empty>No RAM user yet.</Empty>
      ) : (
        <table data-testid="users">
          <thead>
            <tr>
              <th>User</th>
              <th>Login name</th>
              <th>Console password</th>
              <th>Registry password</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {listed.data.users.map((u) => (
              <tr data-user={u.name}>
                <td>
                  <a href={`/console/access/users/${u.name}`}>{u.name}</a>
                </td>
                <td>
                  <code>{u.loginName}</code>
                </td>
                <td>{u.hasConsolePassword ? "set" : "none"}</td>
                <td>{u.hasRegistryPassword ? "set" : "none"}</td>
                <td>
                  <Time iso={u.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {session.can("POST /api/v1/users") && (
        <section class="card">
          <h2>Create a user</h2>
          <ApiForm api="/api/v1/users" submit="Create user" then="/console/access/users/{name}" testid="create-user">
            <div class="grid two">
              <Field label="Name">
                <input name="name" required />
              </Field>
              <Field label="Console password" hint="optional; without one the user cannot log in to the console">
                <input name="password" type="password" autocomplete="new-password" />
              </Field>
            </div>
          </ApiForm>
        </section>
      )}
    </AccessPage>
  );
}

export async function UserPage({ session, name }: { session: ConsoleSession; name: string }) {
  const path = `/api/v1/users/${encodeURIComponent(name)}`;
  const [user, attached, policies] = await Promise.all([
    session.api.get<User>(path),
    session.api.get<{ policies: { name: string; type: string }[] }>(`${path}/policies`),
    session.can("GET /api/v1/policies") ? session.api.get<{ policies: Policy[] }>("/api/v1/policies") : undefined,
  ]);
  const parts = { name };
  return (
    <AccessPage session={session} tab="users">
      <h2>
        User <code>{name}</code>
      </h2>
      {!user.ok ? (
        <Refusal status={user.status} error={user.error} />
      ) : (
        <p class="muted">
          Logs in as <code>{user.data.loginName}</code>; groups: {user.data.groups?.length ? user.data.groups.join(", ") : "none"}.
        </p>
      )}
      <section class="card" data-testid="user-policies">
        <h3>Policies</h3>
        {!attached.ok ? (
          <Refusal status={attached.status} error={attached.error} />
        ) : attached.data.policies.length === 0 ? (
          <Empty>No policy attached: this user may do nothing.</Empty>
        ) : (
          <ul class="plain">
            {attached.data.policies.map((p) => (
              <li data-attached={p.name}>
                <a href={`/console/access/policies#${p.name}`}>{p.name}</a> <span class="muted">({p.type})</span>{" "}
                {session.can("DELETE /api/v1/users/{name}/policies/{policyName}", parts) && (
                  <ApiButton api={`${path}/policies/${encodeURIComponent(p.name)}`} method="DELETE" label="Detach" class="link" />
                )}
              </li>
            ))}
          </ul>
        )}
        {session.can("POST /api/v1/users/{name}/policies", parts) && policies?.ok && (
          <ApiForm api={`${path}/policies`} submit="Attach" class="inline-form" testid="attach-policy">
            <Field label="Policy">
              <select name="policyName">
                {policies.data.policies.map((p) => (
                  <option value={p.name}>{`${p.name} (${p.type})`}</option>
                ))}
              </select>
            </Field>
          </ApiForm>
        )}
      </section>
      <div class="grid two">
        {session.can("POST /api/v1/users/{name}/access-keys", parts) && (
          <section class="card">
            <h3>Access keys</h3>
            <p class="muted">For API calls and scripts. The key is shown once.</p>
            <ApiForm api={`${path}/access-keys`} then="show:access-key" submit="Create access key" testid="create-access-key" />
          </section>
        )}
        {session.can("PUT /api/v1/users/{name}/password", parts) && (
          <section class="card">
            <h3>Passwords</h3>
            <ApiForm api={`${path}/password`} method="PUT" submit="Set console password">
              <Field label="Console password">
                <input name="password" type="password" autocomplete="new-password" required />
              </Field>
            </ApiForm>
            <ApiForm api={`${path}/registry-password`} method="PUT" submit="Set registry password">
              <Field label="Registry password">
                <input name="password" type="password" autocomplete="new-password" required />
              </Field>
            </ApiForm>
          </section>
        )}
      </div>
      {session.can("DELETE /api/v1/users/{name}", parts) && (
        <ApiButton api={path} method="DELETE" label={`Delete user ${name}`} class="danger" confirm={`Delete user ${name}?`} then="/console/access/users" />
      )}
    </AccessPage>
  );
}

export async function GroupsPage({ session }: { session: ConsoleSession }) {
  const listed = await session.api.get<{ groups: Group[] }>("/api/v1/groups");
  const groups = listed.ok ? await Promise.all(listed.data.groups.map((g) => session.api.get<Group>(`/api/v1/groups/${g.name}`))) : [];
  const policies = session.can("GET /api/v1/policies") ? await session.api.get<{ policies: Policy[] }>("/api/v1/policies") : undefined;
  return (
    <AccessPage session={session} tab="groups">
      {!listed.ok ? (
        <Refusal status={listed.status} error={listed.error} what="Listing groups" />
      ) : groups.length === 0 ? (
        <Empty>No group yet.</Empty>
      ) : (
        <table data-testid="groups">
          <thead>
            <tr>
              <th>Group</th>
              <th>Members</th>
              <th>Policies</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) =>
              !g.ok ? null : (
                <tr data-group={g.data.name}>
                  <td>{g.data.name}</td>
                  <td>{g.data.members?.join(", ") || "—"}</td>
                  <td>{g.data.policies?.join(", ") || "—"}</td>
                  <td class="row-actions">
                    {session.can("POST /api/v1/groups/{g}/members", { g: g.data.name }) && (
                      <ApiForm api={`/api/v1/groups/${g.data.name}/members`} submit="Add member" class="inline-form">
                        <input name="userName" placeholder="user name" required />
                      </ApiForm>
                    )}
                    {session.can("POST /api/v1/groups/{g}/policies", { g: g.data.name }) && policies?.ok && (
                      <ApiForm api={`/api/v1/groups/${g.data.name}/policies`} submit="Attach policy" class="inline-form">
                        <select name="policyName">
                          {policies.data.policies.map((p) => (
                            <option value={p.name}>{p.name}</option>
                          ))}
                        </select>
                      </ApiForm>
                    )}
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
      {session.can("POST /api/v1/groups") && (
        <section class="card">
          <h2>Create a group</h2>
          <ApiForm api="/api/v1/groups" submit="Create group" testid="create-group">
            <Field label="Name">
              <input name="name" required />
            </Field>
          </ApiForm>
        </section>
      )}
    </AccessPage>
  );
}

const EXAMPLE_POLICY = JSON.stringify(
  { Version: "1", Statement: [{ Effect: "Allow", Action: ["cr:Get*", "cr:List*", "cr:PullRepository"], Resource: ["acs:cr:*:*:repository/alitest1/*"] }] },
  null,
  2,
);

export async function PoliciesPage({ session }: { session: ConsoleSession }) {
  const listed = await session.api.get<{ policies: Policy[] }>("/api/v1/policies");
  return (
    <AccessPage session={session} tab="policies">
      {!listed.ok ? (
        <Refusal status={listed.status} error={listed.error} what="Listing policies" />
      ) : (
        <table data-testid="policies">
          <thead>
            <tr>
              <th>Policy</th>
              <th>Type</th>
              <th>Attached to</th>
              <th>Document</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {listed.data.policies.map((p) => (
              <tr id={p.name} data-policy={p.name}>
                <td>
                  {p.name}
                  {p.description && <div class="muted">{p.description}</div>}
                </td>
                <td>{p.type}</td>
                <td>{p.attachmentCount}</td>
                <td>
                  <details>
                    <summary>Show</summary>
                    <pre class="json">{JSON.stringify(p.document, null, 2)}</pre>
                  </details>
                </td>
                <td>
                  {p.type === "Custom" && p.attachmentCount === 0 && session.can("DELETE /api/v1/policies/{name}", { name: p.name }) && (
                    <ApiButton api={`/api/v1/policies/${p.name}`} method="DELETE" label="Delete" class="danger" confirm={`Delete policy ${p.name}?`} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {session.can("POST /api/v1/policies") && (
        <section class="card">
          <h2>Create a policy</h2>
          <ApiForm api="/api/v1/policies" submit="Create policy" testid="create-policy">
            <div class="grid two">
              <Field label="Name">
                <input name="name" required />
              </Field>
              <Field label="Description">
                <input name="description" />
              </Field>
            </div>
            <Field label="Document" hint="checked as you type">
              <textarea name="document" data-kind="json" data-policy-editor rows={12} spellcheck={false} class="code">
                {EXAMPLE_POLICY}
              </textarea>
            </Field>
            <div class="editor-status" data-editor-status data-testid="policy-editor-status" aria-live="polite"></div>
          </ApiForm>
        </section>
      )}
    </AccessPage>
  );
}

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
        <p class="muted">Evaluates the user's policies (their own and their groups') for one request, and names the statements that decide it.</p>
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
          <Refusal status={403} error={{ error: "AccessDenied", message: "", action: "ram:SimulatePolicy", resource: `acs:ram:*:${accountId}:policy/*`, decision: "ImplicitDeny" }} />
        )}
        <datalist id="kiln-actions">{actions.ok && [...new Set(actions.data.actions.flatMap((a) => (a.action ? [a.action] : [])))].map((a) => <option value={a} />)}</datalist>
      </section>
    </AccessPage>
  );
}
