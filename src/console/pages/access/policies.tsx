/** @jsxImportSource hono/jsx */
import type { ConsoleSession } from "../../session.ts";
import type { Policy } from "../types.ts";
import { ApiButton, ApiForm, Field, Refusal } from "../../views/components.tsx";
import { AccessPage } from "./layout.tsx";

const EXAMPLE_POLICY = JSON.stringify(
  {
    Version: "1",
    Statement: [
      {
        Effect: "Allow",
        Action: ["cr:Get*", "cr:List*", "cr:PullRepository"],
        Resource: ["acs:cr:*:*:repository/alitest1/*"],
      },
    ],
  },
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
                  {p.type === "Custom" &&
                    p.attachmentCount === 0 &&
                    session.can("DELETE /api/v1/policies/{name}", { name: p.name }) && (
                      <ApiButton
                        api={`/api/v1/policies/${p.name}`}
                        method="DELETE"
                        label="Delete"
                        class="danger"
                        confirm={`Delete policy ${p.name}?`}
                      />
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
