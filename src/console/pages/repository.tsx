/** @jsxImportSource hono/jsx */
import { PROVIDER_IDS } from "../../sources/providers/index.ts";
import type { ApiResult } from "../api-client.ts";
import { ApiButton, ApiForm, Bytes, Command, Empty, Field, Refusal, Status, Time } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";
import type { Build, BuildRule, Repository, SourceBinding, Tag, User } from "./types.ts";

type RepoRef = {
  region: string;
  ns: string;
  repo: string;
};

const ROUTE = "/api/v1/regions/{region}/repositories/{ns}/{repo}";

/** One repository: summary, docker commands, tags, code source, build rules with a tester, builds. */
export async function RepositoryPage({ session, at }: { session: ConsoleSession; at: RepoRef }) {
  const base = `/api/v1/regions/${at.region}/repositories/${at.ns}/${at.repo}`;
  const found = await session.api.get<Repository>(base);
  if (!found.ok) {
    return (
      <Page title={`${at.ns}/${at.repo}`} session={session} section="repositories">
        <h1>
          {at.ns}/{at.repo}
        </h1>
        <Refusal status={found.status} error={found.error} what="Opening the repository" />
      </Page>
    );
  }
  const repository = found.data;
  const can = (route: string) => session.can(route, at);
  const [tags, source, rules, builds] = await Promise.all([
    session.api.get<{ tags: Tag[] }>(`${base}/tags`),
    session.api.get<SourceBinding>(`${base}/source`),
    session.api.get<{ rules: BuildRule[] }>(`${base}/build-rules`),
    session.api.get<{ builds: Build[] }>(`${base}/builds?limit=20`),
  ]);
  const users = can(`PUT ${ROUTE}/source`) && session.can("GET /api/v1/users") ? await session.api.get<{ users: User[] }>("/api/v1/users") : undefined;
  return (
    <Page title={`${at.ns}/${at.repo}`} session={session} section="repositories">
      <div class="page-head">
        <h1 data-testid="repository-name">
          {at.ns}/{at.repo}
        </h1>
        <span class="pill">{at.region}</span>
        <span class="pill">{repository.visibility}</span>
      </div>
      {repository.summary && <p class="summary">{repository.summary}</p>}
      {repository.description && <p class="description">{repository.description}</p>}
      <p class="muted">
        Created <Time iso={repository.createdAt} />
      </p>
      {(can(`PATCH ${ROUTE}`) || can(`DELETE ${ROUTE}`)) && (
        <details class="settings">
          <summary>Repository settings</summary>
          {can(`PATCH ${ROUTE}`) && (
            <ApiForm api={base} method="PATCH" submit="Save" testid="edit-repository">
              <Field label="Summary">
                <input name="summary" maxlength={100} value={repository.summary ?? ""} />
              </Field>
              <Field label="Description">
                <textarea name="description" rows={3}>
                  {repository.description ?? ""}
                </textarea>
              </Field>
              <Field label="Visibility" hint="public: anyone may pull, without logging in">
                <select name="visibility">
                  <option value="private" selected={repository.visibility === "private"}>
                    private
                  </option>
                  <option value="public" selected={repository.visibility === "public"}>
                    public
                  </option>
                </select>
              </Field>
            </ApiForm>
          )}
          {can(`DELETE ${ROUTE}`) && (
            <ApiButton api={base} method="DELETE" label="Delete repository" class="danger" confirm={`Delete ${at.ns}/${at.repo}, its tags' records, rules and builds?`} then={`/console/regions/${at.region}/repositories`} testid="delete-repository" />
          )}
        </details>
      )}

      <section class="card" data-testid="commands">
        <h2>Docker commands</h2>
        {repository.commands && (
          <>
            <h3>Log in</h3>
            <Command text={repository.commands.login} testid="command-login" />
            <h3>Pull</h3>
            <Command text={repository.commands.pull} testid="command-pull" />
            <h3>Tag and push</h3>
            <Command text={repository.commands.tag} testid="command-tag" />
            <Command text={repository.commands.push} testid="command-push" />
          </>
        )}
      </section>

      <section class="card" data-testid="tags">
        <h2>Tags</h2>
        {!tags.ok ? (
          <Refusal status={tags.status} error={tags.error} />
        ) : tags.data.tags.length === 0 ? (
          <Empty>No tag has been pushed yet.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Tag</th>
                <th>Digest</th>
                <th>Size</th>
                <th>Pushed by</th>
                <th>Pushed</th>
              </tr>
            </thead>
            <tbody>
              {tags.data.tags.map((t) => (
                <tr data-tag={t.tag}>
                  <td>
                    <code>{t.tag}</code>
                  </td>
                  <td>
                    <code class="digest" title={t.digest}>
                      {t.digest.slice(0, 19)}…
                    </code>
                  </td>
                  <td>
                    <Bytes size={t.size} />
                  </td>
                  <td>{t.pushedBy ?? "—"}</td>
                  <td>
                    <Time iso={t.pushedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <SourceSection at={at} base={base} source={source} mayBind={can(`PUT ${ROUTE}/source`)} users={users?.ok ? users.data.users : undefined} />
      <RulesSection at={at} base={base} rules={rules} can={can} />
      <BuildsSection base={base} builds={builds} mayBuild={can(`POST ${ROUTE}/builds`)} />
    </Page>
  );
}

function SourceSection(props: { at: RepoRef; base: string; source: ApiResult<SourceBinding>; mayBind: boolean; users?: User[] }) {
  const bound = props.source.ok ? props.source.data : undefined;
  const unbound = !props.source.ok && props.source.status === 404;
  return (
    <section class="card" data-testid="source">
      <h2>Code source</h2>
      {bound ? (
        <dl class="facts">
          <dt>Provider</dt>
          <dd>{bound.provider}</dd>
          <dt>Repository</dt>
          <dd>
            <code>{bound.repoUrl}</code>
          </dd>
          <dt>Pushes as</dt>
          <dd>{bound.pushUser}</dd>
          <dt>Build on push</dt>
          <dd>{bound.autoBuild ? "yes" : "no"}</dd>
          <dt>Webhook URL</dt>
          <dd>
            <code data-testid="webhook-url">{bound.webhookUrl}</code>
          </dd>
        </dl>
      ) : unbound ? (
        <Empty>Not bound to a code repository.</Empty>
      ) : (
        !props.source.ok && <Refusal status={props.source.status} error={props.source.error} />
      )}
      {props.mayBind && (
        <details open={!bound}>
          <summary>{bound ? "Change the binding" : "Bind a code repository"}</summary>
          <ApiForm api={`${props.base}/source`} method="PUT" then="show:binding" submit={bound ? "Save binding" : "Bind"} testid="bind-source">
            <div class="grid two">
              <Field label="Provider">
                <select name="provider">
                  {PROVIDER_IDS.map((p) => (
                    <option value={p} selected={p === (bound?.provider ?? "github")}>
                      {p}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Repository URL" hint="https://, ssh:// or git@host:path">
                <input name="repoUrl" required value={bound?.repoUrl ?? ""} />
              </Field>
              <Field label="Push as (RAM user)" hint="the build pushes with this user's rights">
                {props.users?.length ? (
                  <select name="pushUser" required>
                    {props.users.map((u) => (
                      <option value={u.name} selected={u.name === bound?.pushUser}>
                        {u.loginName}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input name="pushUser" required value={bound?.pushUser ?? ""} />
                )}
              </Field>
              <Field label="Branch filter" hint="optional: only these branches trigger builds">
                <input name="branchFilter" value={bound?.branchFilter ?? ""} />
              </Field>
              <Field label="Git user name" hint="for a private repository">
                <input name="credentials.username" autocomplete="off" />
              </Field>
              <Field label="Git token" hint="sealed at rest; never shown again">
                <input name="credentials.token" type="password" autocomplete="off" />
              </Field>
            </div>
            <label class="check">
              <input type="checkbox" name="autoBuild" data-kind="bool" checked={bound?.autoBuild ?? true} /> Build on push
            </label>
            {bound && (
              <label class="check">
                <input type="checkbox" name="rotateSecret" data-kind="bool" /> Rotate the webhook secret
              </label>
            )}
          </ApiForm>
        </details>
      )}
    </section>
  );
}

function RulesSection(props: { at: RepoRef; base: string; rules: ApiResult<{ rules: BuildRule[] }>; can: (route: string) => boolean }) {
  const rules = props.rules.ok ? props.rules.data.rules : undefined;
  const mayDelete = props.can(`DELETE ${ROUTE}/build-rules/{id}`);
  const mayEdit = props.can(`PATCH ${ROUTE}/build-rules/{id}`);
  return (
    <section class="card" data-testid="build-rules">
      <h2>Build rules</h2>
      {!props.rules.ok ? (
        <Refusal status={props.rules.status} error={props.rules.error} />
      ) : props.rules.data.rules.length === 0 ? (
        <Empty>No build rule: pushes build nothing.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>#</th>
              <th>On</th>
              <th>Source</th>
              <th>Tags</th>
              <th>Dockerfile</th>
              <th>Enabled</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {props.rules.data.rules.map((r) => (
              <tr data-rule={r.id}>
                <td>{r.id}</td>
                <td>{r.sourceType}</td>
                <td>
                  <code>{r.source}</code>
                </td>
                <td>
                  {r.tags.map((t) => (
                    <code class="tag">{t}</code>
                  ))}
                </td>
                <td>
                  <code>{`${r.dockerfileDir.replace(/\/$/, "")}/${r.dockerfileName}`}</code>
                </td>
                <td>{r.enabled ? "yes" : "no"}</td>
                <td class="row-actions">
                  {mayEdit && (
                    <details>
                      <summary>Edit</summary>
                      <ApiForm api={`${props.base}/build-rules/${r.id}`} method="PATCH" submit="Save rule" testid={`edit-rule-${r.id}`}>
                        <RuleFields rule={r} />
                        <label class="check">
                          <input type="checkbox" name="enabled" data-kind="bool" checked={r.enabled} /> Enabled
                        </label>
                      </ApiForm>
                    </details>
                  )}
                  {mayDelete && <ApiButton api={`${props.base}/build-rules/${r.id}`} method="DELETE" label="Delete" class="danger" confirm={`Delete rule ${r.id}?`} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.can(`POST ${ROUTE}/build-rules/test`) && rules && rules.length > 0 && (
        <div class="subsection">
          <h3>Rule tester</h3>
          <ApiForm api={`${props.base}/build-rules/test`} then="show:rule-test" submit="Test" class="inline-form" testid="rule-tester">
            <Field label="Branch or tag" hint="e.g. main, v1.4.2, refs/tags/v1.4.2">
              <input name="ref" required />
            </Field>
          </ApiForm>
        </div>
      )}
      {props.can(`POST ${ROUTE}/build-rules`) && (
        <details class="subsection" data-testid="add-rule-details">
          <summary>Add a build rule</summary>
          <ApiForm api={`${props.base}/build-rules`} submit="Add rule" testid="add-rule">
            <RuleFields />
          </ApiForm>
        </details>
      )}
    </section>
  );
}

/** The fields of a build rule (one Dockerfile variant), empty for a new rule or filled to edit one. */
function RuleFields({ rule }: { rule?: BuildRule }) {
  const args = Object.entries(rule?.buildArgs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
  return (
    <>
      <div class="grid two">
        <Field label="On">
          <select name="sourceType">
            <option value="branch" selected={rule?.sourceType !== "tag"}>
              branch
            </option>
            <option value="tag" selected={rule?.sourceType === "tag"}>
              tag
            </option>
          </select>
        </Field>
        <Field label="Branch or tag" hint="an exact name, or /regex/ matched against the whole name">
          <input name="source" required placeholder="/v(\d+)\.(\d+)\.(\d+)/" value={rule?.source ?? ""} />
        </Field>
        <Field label="Image tags" hint="comma-separated templates: {sourceref}, {\1}, {name}, {shortsha}, {semver.major}">
          <input name="tags" data-kind="list" required placeholder="{sourceref}, latest" value={rule?.tags.join(", ") ?? ""} />
        </Field>
        <Field label="Dockerfile directory">
          <input name="dockerfileDir" placeholder="/" value={rule?.dockerfileDir ?? ""} />
        </Field>
        <Field label="Dockerfile name">
          <input name="dockerfileName" placeholder="Dockerfile" value={rule?.dockerfileName ?? ""} />
        </Field>
        <Field label="Build arguments" hint="one NAME=value a line">
          <textarea name="buildArgs" data-kind="map" rows={2}>
            {args}
          </textarea>
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" name="noCache" data-kind="bool" checked={rule?.noCache ?? false} /> Build without cache
      </label>
    </>
  );
}

function BuildsSection(props: { base: string; builds: ApiResult<{ builds: Build[] }>; mayBuild: boolean }) {
  return (
    <section class="card" data-testid="builds">
      <h2>Builds</h2>
      {props.mayBuild && (
        <ApiForm api={`${props.base}/builds`} then="/console/builds/{builds.0.id}" submit="Build now" class="inline-form" testid="build-now">
          <Field label="Branch or tag">
            <input name="ref" required placeholder="main" />
          </Field>
        </ApiForm>
      )}
      {!props.builds.ok ? (
        <Refusal status={props.builds.status} error={props.builds.error} />
      ) : props.builds.data.builds.length === 0 ? (
        <Empty>No build yet.</Empty>
      ) : (
        <BuildTable builds={props.builds.data.builds} />
      )}
    </section>
  );
}

export function BuildTable({ builds }: { builds: Build[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Build</th>
          <th>Status</th>
          <th>Ref</th>
          <th>Commit</th>
          <th>Tags</th>
          <th>Trigger</th>
          <th>Queued</th>
        </tr>
      </thead>
      <tbody>
        {builds.map((b) => (
          <tr data-build={b.id}>
            <td>
              <a href={`/console/builds/${b.id}`}>{b.id.slice(0, 8)}</a>
            </td>
            <td>
              <Status status={b.status} />
            </td>
            <td>
              <code>{b.ref}</code>
            </td>
            <td>
              <code>{b.commit?.slice(0, 7) ?? "—"}</code>
            </td>
            <td>
              {b.tags.map((t) => (
                <code class="tag">{t}</code>
              ))}
            </td>
            <td>{b.trigger}</td>
            <td>
              <Time iso={b.queuedAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
