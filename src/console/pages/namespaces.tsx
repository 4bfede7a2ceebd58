/** @jsxImportSource hono/jsx */
import { ApiButton, ApiForm, Empty, Field, Refusal, Time } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";
import type { Namespace } from "./types.ts";

/** The namespaces the caller may list (the API filters each by cr:ListNamespace). */
export async function NamespacesPage({ session }: { session: ConsoleSession }) {
  const listed = await session.api.get<{ namespaces: Namespace[] }>("/api/v1/namespaces");
  const region = session.defaultRegion;
  const mayCreate = session.can("POST /api/v1/namespaces", { region });
  return (
    <Page title="Namespaces" session={session} section="namespaces">
      <h1>Namespaces</h1>
      {!listed.ok ? (
        <Refusal status={listed.status} error={listed.error} what="Listing namespaces" />
      ) : listed.data.namespaces.length === 0 ? (
        <Empty>
          <span data-testid="no-namespaces">No namespace is visible to you.</span> Your policies allow{" "}
          <code>cr:ListNamespace</code> on none.
        </Empty>
      ) : (
        <table data-testid="namespaces">
          <thead>
            <tr>
              <th>Namespace</th>
              <th>Repositories</th>
              <th>Create repositories on push</th>
              <th>Default visibility</th>
              <th>Created</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {listed.data.namespaces.map((ns) => (
              <NamespaceRow session={session} ns={ns} region={region} />
            ))}
          </tbody>
        </table>
      )}
      {mayCreate && (
        <section class="card">
          <h2>Create a namespace</h2>
          <ApiForm api="/api/v1/namespaces" submit="Create namespace" testid="create-namespace">
            <Field label="Name" hint="2–30 characters: lower-case letters, digits, and . _ - between them">
              <input name="name" required pattern="[a-z0-9]+([._\-][a-z0-9]+)*" />
            </Field>
            <NamespaceSettings />
          </ApiForm>
        </section>
      )}
    </Page>
  );
}

function NamespaceRow({ session, ns, region }: { session: ConsoleSession; ns: Namespace; region: string }) {
  const parts = { region, ns: ns.name };
  const mayUpdate = session.can("PATCH /api/v1/namespaces/{ns}", parts);
  const mayDelete = session.can("DELETE /api/v1/namespaces/{ns}", parts);
  return (
    <tr data-namespace={ns.name}>
      <td>
        <a href={`/console/regions/${region}/repositories?namespace=${ns.name}`}>{ns.name}</a>
      </td>
      <td>{ns.repositoryCount}</td>
      <td>{ns.autoCreateRepository ? "yes" : "no"}</td>
      <td>{ns.defaultVisibility}</td>
      <td>
        <Time iso={ns.createdAt} />
      </td>
      <td class="row-actions">
        {mayUpdate && (
          <details>
            <summary>Edit</summary>
            <ApiForm api={`/api/v1/namespaces/${ns.name}`} method="PATCH" submit="Save">
              <NamespaceSettings current={ns} />
            </ApiForm>
          </details>
        )}
        {mayDelete && ns.repositoryCount === 0 && (
          <ApiButton
            api={`/api/v1/namespaces/${ns.name}`}
            method="DELETE"
            label="Delete"
            class="danger"
            confirm={`Delete namespace ${ns.name}?`}
          />
        )}
      </td>
    </tr>
  );
}

function NamespaceSettings({ current }: { current?: Namespace }) {
  return (
    <>
      <label class="check">
        <input
          type="checkbox"
          name="autoCreateRepository"
          data-kind="bool"
          checked={current?.autoCreateRepository ?? false}
        />{" "}
        Create a repository on first push
      </label>
      <Field label="Default visibility">
        <select name="defaultVisibility">
          <option value="private" selected={current?.defaultVisibility !== "public"}>
            private
          </option>
          <option value="public" selected={current?.defaultVisibility === "public"}>
            public
          </option>
        </select>
      </Field>
    </>
  );
}
