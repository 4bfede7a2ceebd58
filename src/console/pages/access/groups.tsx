/** @jsxImportSource hono/jsx */
import type { ConsoleSession } from "../../session.ts";
import type { Group, Policy } from "../types.ts";
import { ApiForm, Empty, Field, Refusal } from "../../views/components.tsx";
import { AccessPage } from "./layout.tsx";

export async function GroupsPage({ session }: { session: ConsoleSession }) {
  const listed = await session.api.get<{ groups: Group[] }>("/api/v1/groups");
  const groups = listed.ok
    ? await Promise.all(listed.data.groups.map((g) => session.api.get<Group>(`/api/v1/groups/${g.name}`)))
    : [];
  const policies = session.can("GET /api/v1/policies")
    ? await session.api.get<{ policies: Policy[] }>("/api/v1/policies")
    : undefined;
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
                      <ApiForm
                        api={`/api/v1/groups/${g.data.name}/policies`}
                        submit="Attach policy"
                        class="inline-form"
                      >
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
