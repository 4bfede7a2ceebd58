/** @jsxImportSource hono/jsx */
import { ApiForm, Field } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";

interface Me {
  loginName: string;
  kind: "root" | "user";
  hasRegistryPassword: boolean;
}

/** The caller's passwords. A first login without a registry password lands here (as in ACR). */
export async function MePage({ session, next }: { session: ConsoleSession; next?: string }) {
  const me = await session.api.get<Me>("/api/v1/me");
  const hasRegistryPassword = me.ok && me.data.hasRegistryPassword;
  return (
    <Page title="Passwords" session={session}>
      <h1>Passwords of {session.loginName}</h1>
      {!hasRegistryPassword && (
        <div class="notice" data-testid="must-set-registry-password">
          Set a registry password before you use <code>docker login</code>. It is separate from the console password.
        </div>
      )}
      <div class="grid two">
        <section class="card">
          <h2>Registry password</h2>
          <p class="muted">
            For <code>docker login</code> as <code>{session.loginName}</code>.
          </p>
          <ApiForm
            api="/api/v1/me/registry-password"
            method="PUT"
            then={next ?? "reload"}
            submit={hasRegistryPassword ? "Change registry password" : "Set registry password"}
            testid="registry-password-form"
          >
            <Field label="New registry password" hint="8 characters or more, with letters and digits">
              <input name="password" type="password" autocomplete="new-password" required />
            </Field>
          </ApiForm>
        </section>
        <section class="card">
          <h2>Console password</h2>
          <ApiForm api="/api/v1/me/password" method="PUT" submit="Change console password">
            <Field label="New console password">
              <input name="password" type="password" autocomplete="new-password" required />
            </Field>
          </ApiForm>
        </section>
      </div>
    </Page>
  );
}
