/** @jsxImportSource hono/jsx */
import type { ConsoleSession } from "../../session.ts";
import type { Policy, User } from "../types.ts";
import { ApiButton, ApiForm, Empty, Field, Refusal, Time } from "../../views/components.tsx";
import { AccessPage } from "./layout.tsx";

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
          Logs in as <code>{user.data.loginName}</code>; groups:{" "}
          {user.data.groups?.length ? user.data.groups.join(", ") : "none"}.
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
                  <ApiButton
                    api={`${path}/policies/${encodeURIComponent(p.name)}`}
                    method="DELETE"
                    label="Detach"
                    class="link"
                  />
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
            <ApiForm
              api={`${path}/access-keys`}
              then="show:access-key"
              submit="Create access key"
              testid="create-access-key"
            />
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
        <ApiButton
          api={path}
          method="DELETE"
          label={`Delete user ${name}`}
          class="danger"
          confirm={`Delete user ${name}?`}
          then="/console/access/users"
        />
      )}
    </AccessPage>
  );
}
