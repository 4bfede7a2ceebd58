/** @jsxImportSource hono/jsx */
import type { z } from "@hono/zod-openapi";
import type { RepoRef } from "./ref.ts";
import type { BuildSecretSchema } from "../../../api/routes/build-secrets.ts";
import type { ConsoleSession } from "../../session.ts";
import { ApiButton, ApiForm, Command, Empty, Field, Refusal, Time } from "../../views/components.tsx";
import { ROUTE } from "./ref.ts";

type BuildSecret = z.infer<typeof BuildSecretSchema>;

/**
 * The repository's build secrets: ids and update times, a write-only form to set one (the value
 * goes to the API and is never shown again), delete buttons. Offered only to a caller who may do
 * one of the three.
 */
export async function BuildSecretsSection(props: {
  session: ConsoleSession;
  at: RepoRef;
  base: string;
  can: (route: string) => boolean;
}) {
  const mayList = props.can(`GET ${ROUTE}/build-secrets`);
  const maySet = props.can(`PUT ${ROUTE}/build-secrets/{id}`);
  const mayDelete = props.can(`DELETE ${ROUTE}/build-secrets/{id}`);
  if (!mayList && !maySet && !mayDelete) return null;
  const api = `${props.base}/build-secrets`;
  const listed = mayList ? await props.session.api.get<{ secrets: BuildSecret[] }>(api) : undefined;
  return (
    <section class="card" id="build-secrets" data-testid="build-secrets">
      <h2>Build secrets</h2>
      <p class="muted">
        Values a Dockerfile reads during the build without leaving them in the image, its history or the build log.
        Sealed at rest; once set, a value is never shown again. In a Dockerfile:
      </p>
      <Command text="RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc" testid="secret-usage" />
      {!listed ? null : !listed.ok ? (
        <Refusal status={listed.status} error={listed.error} />
      ) : listed.data.secrets.length === 0 ? (
        <Empty>No build secret.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Id</th>
              <th>Updated</th>
              <th>Created</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {listed.data.secrets.map((s) => (
              <tr data-secret={s.id}>
                <td>
                  <code>{s.id}</code>
                </td>
                <td>
                  <Time iso={s.updatedAt} />
                </td>
                <td>
                  <Time iso={s.createdAt} />
                </td>
                <td class="row-actions">
                  {mayDelete && (
                    <ApiButton
                      api={`${api}/${encodeURIComponent(s.id)}`}
                      method="DELETE"
                      label="Delete"
                      class="danger"
                      confirm={`Delete the build secret ${s.id}? Builds that mount it will fail.`}
                      testid={`delete-secret-${s.id}`}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {maySet && (
        <details class="subsection" data-testid="set-secret-details">
          <summary>Set a build secret</summary>
          <ApiForm api={`${api}/{id}`} method="PUT" submit="Save secret" testid="set-secret">
            <div class="grid two">
              <Field label="Id" hint="as in id=… of the mount; setting an existing id replaces its value">
                <input
                  name="id"
                  data-omit
                  required
                  maxlength={64}
                  pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
                  placeholder="npmrc"
                  autocomplete="off"
                />
              </Field>
              <Field
                label="Value"
                hint="write-only: never shown again (one line here; a file of several lines through the API)"
              >
                <input name="value" type="password" required autocomplete="new-password" />
              </Field>
            </div>
          </ApiForm>
        </details>
      )}
    </section>
  );
}
