/** @jsxImportSource hono/jsx */
import type { RepoRef } from "./ref.ts";
import type { ConsoleSession } from "../../session.ts";
import type { Build, BuildRule, Repository, SourceBinding, Tag, User } from "../types.ts";
import { ApiButton, ApiForm, Bytes, Command, Empty, Field, Refusal, Time } from "../../views/components.tsx";
import { Page } from "../../views/layout.tsx";
import { SourceSection } from "./source.tsx";
import { RulesSection } from "./rules.tsx";
import { BuildsSection } from "./builds.tsx";
import { BuildSecretsSection } from "./secrets.tsx";
import { WebhooksSection } from "./webhooks.tsx";
import { ROUTE } from "./ref.ts";

/** One repository: summary, docker commands, tags, code source, build rules with a tester, builds, webhooks. */
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
  const users =
    can(`PUT ${ROUTE}/source`) && session.can("GET /api/v1/users")
      ? await session.api.get<{ users: User[] }>("/api/v1/users")
      : undefined;
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
            <ApiButton
              api={base}
              method="DELETE"
              label="Delete repository"
              class="danger"
              confirm={`Delete ${at.ns}/${at.repo}, its tags' records, rules and builds?`}
              then={`/console/regions/${at.region}/repositories`}
              testid="delete-repository"
            />
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
                <th>Platforms</th>
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
                  <td data-testid="tag-platforms">{t.platforms?.length ? t.platforms.join(", ") : "—"}</td>
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

      <SourceSection
        at={at}
        base={base}
        source={source}
        mayBind={can(`PUT ${ROUTE}/source`)}
        users={users?.ok ? users.data.users : undefined}
      />
      <RulesSection at={at} base={base} rules={rules} can={can} />
      <BuildSecretsSection session={session} at={at} base={base} can={can} />
      <BuildsSection base={base} builds={builds} mayBuild={can(`POST ${ROUTE}/builds`)} />
      <WebhooksSection session={session} at={at} base={base} can={can} />
    </Page>
  );
}
