/** @jsxImportSource hono/jsx */
import { ApiForm, Empty, Field, Refusal, Time } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";
import type { Namespace, Repository } from "./types.ts";

/** Repositories of one region: a repository made in another region does not show here. */
export async function RepositoriesPage({
  session,
  region,
  namespace,
}: {
  session: ConsoleSession;
  region: string;
  namespace?: string;
}) {
  const query = namespace ? `?namespace=${encodeURIComponent(namespace)}` : "";
  const [listed, namespaces] = await Promise.all([
    session.api.get<{ repositories: Repository[] }>(`/api/v1/regions/${region}/repositories${query}`),
    session.api.get<{ namespaces: Namespace[] }>(`/api/v1/namespaces?region=${region}`),
  ]);
  const mayCreate = session.can("POST /api/v1/regions/{region}/repositories", { region });
  const knownNamespaces = namespaces.ok ? namespaces.data.namespaces.map((n) => n.name) : [];
  return (
    <Page title="Repositories" session={session} section="repositories">
      <div class="page-head">
        <h1>Repositories{namespace ? ` in ${namespace}` : ""}</h1>
        <label class="region-switcher">
          Region{" "}
          <select data-navigate data-testid="region-switcher">
            {session.regions.map((r) => (
              <option value={`/console/regions/${r}/repositories${query}`} selected={r === region}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </div>
      {namespace && (
        <p>
          <a href={`/console/regions/${region}/repositories`}>All namespaces</a>
        </p>
      )}
      {!listed.ok ? (
        <Refusal status={listed.status} error={listed.error} what="Listing repositories" />
      ) : listed.data.repositories.length === 0 ? (
        <Empty>
          <span data-testid="no-repositories">No repository in {region} is visible to you.</span>
        </Empty>
      ) : (
        <table data-testid="repositories">
          <thead>
            <tr>
              <th>Repository</th>
              <th>Visibility</th>
              <th>Summary</th>
              <th>Image</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {listed.data.repositories.map((r) => (
              <tr data-repository={`${r.namespace}/${r.name}`}>
                <td>
                  <a href={`/console/regions/${region}/repositories/${r.namespace}/${r.name}`}>
                    {r.namespace}/{r.name}
                  </a>
                </td>
                <td>{r.visibility}</td>
                <td>{r.summary ?? ""}</td>
                <td>
                  <code>{r.image}</code>
                </td>
                <td>
                  <Time iso={r.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mayCreate && (
        <section class="card">
          <h2>Create a repository in {region}</h2>
          <ApiForm
            api={`/api/v1/regions/${region}/repositories`}
            submit="Create repository"
            then={`/console/regions/${region}/repositories/{namespace}/{name}`}
            testid="create-repository"
          >
            <div class="grid two">
              <Field label="Namespace">
                {knownNamespaces.length > 0 ? (
                  <select name="namespace" required>
                    {knownNamespaces.map((n) => (
                      <option value={n} selected={n === namespace}>
                        {n}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input name="namespace" required value={namespace ?? ""} />
                )}
              </Field>
              <Field label="Name">
                <input name="name" required pattern="[a-z0-9]+([._\-][a-z0-9]+)*" />
              </Field>
            </div>
            <Field label="Summary">
              <input name="summary" maxlength={100} />
            </Field>
            <Field label="Visibility">
              <select name="visibility">
                <option value="">the namespace's default</option>
                <option value="private">private</option>
                <option value="public">public</option>
              </select>
            </Field>
          </ApiForm>
        </section>
      )}
    </Page>
  );
}
