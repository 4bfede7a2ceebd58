/** @jsxImportSource hono/jsx */
import { Field } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";

/** A plain form POST: logging in works before the script loads, and the password never reaches page script. */
export function LoginPage({ next, error, loginName }: { next?: string; error?: string; loginName?: string }) {
  return (
    <Page title="Log in">
      <section class="card narrow">
        <h1>Log in to Kiln</h1>
        <p class="muted">
          The main account logs in as <code>alias</code>, a RAM user as <code>user@alias</code>, with the console
          password.
        </p>
        {error && (
          <div class="notice error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <form method="post" action="/console/login" data-testid="login-form">
          <input type="hidden" name="next" value={next ?? ""} />
          <Field label="Login name">
            <input name="loginName" autocomplete="username" required value={loginName ?? ""} autofocus />
          </Field>
          <Field label="Password">
            <input name="password" type="password" autocomplete="current-password" required />
          </Field>
          <div class="actions">
            <button type="submit">Log in</button>
          </div>
        </form>
      </section>
    </Page>
  );
}
