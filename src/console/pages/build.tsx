/** @jsxImportSource hono/jsx */
import { ACTIVE_BUILD_STATUSES, BUILD_STAGES as STAGES } from "../../db/enums.ts";
import { arn } from "../../iam/arn.ts";
import { ApiButton, Bytes, Refusal, Status, Time } from "../views/components.tsx";
import { Page } from "../views/layout.tsx";
import type { ConsoleSession } from "../session.ts";
import type { Build } from "./types.ts";

const ACTIVE = new Set(ACTIVE_BUILD_STATUSES);

/** Seconds between two instants, as "1.2 s"; open-ended while the later one has not come. */
function span(from?: string, to?: string): string {
  if (!from) return "—";
  const end = to ? Date.parse(to) : Date.now();
  return `${((end - Date.parse(from)) / 1000).toFixed(1)} s${to ? "" : " so far"}`;
}

/** One build: its facts, stage timings, a live log (server-sent events), cancel and retry. */
export async function BuildPage({ session, id }: { session: ConsoleSession; id: string }) {
  const found = await session.api.get<Build>(`/api/v1/builds/${encodeURIComponent(id)}`);
  if (!found.ok) {
    return (
      <Page title="Build" session={session} section="repositories">
        <h1>Build {id}</h1>
        <Refusal status={found.status} error={found.error} what="Opening the build" />
      </Page>
    );
  }
  const build = found.data;
  const [ns, repo] = build.repository.split("/") as [string, string];
  const parts = { "build.region": build.region, "build.ns": ns, "build.repo": repo };
  const active = ACTIVE.has(build.status);
  const mayCancel = active && session.can("POST /api/v1/builds/{id}/cancel", parts);
  const mayRetry = !active && session.can("POST /api/v1/builds/{id}/retry", parts);
  const mayReadLog = session.can("GET /api/v1/builds/{id}/logs", parts);
  const stageEnd = (i: number) =>
    build.stageStartedAt?.[STAGES[i + 1]!] ?? (build.stage === STAGES[i] ? build.finishedAt : undefined);
  return (
    <Page title={`Build ${build.id.slice(0, 8)}`} session={session} section="repositories">
      <div class="page-head">
        <h1>
          Build <code>{build.id.slice(0, 8)}</code> of{" "}
          <a href={`/console/regions/${build.region}/repositories/${build.repository}`}>{build.repository}</a>
        </h1>
        <span data-testid="build-status" data-build-status={build.id} data-active={active ? "true" : "false"}>
          <Status status={build.status} />
        </span>
        <div class="head-actions">
          {mayCancel && (
            <ApiButton
              api={`/api/v1/builds/${build.id}/cancel`}
              label="Cancel"
              class="danger"
              confirm="Cancel this build?"
              testid="cancel-build"
            />
          )}
          {mayRetry && (
            <ApiButton
              api={`/api/v1/builds/${build.id}/retry`}
              label="Retry"
              then="/console/builds/{id}"
              testid="retry-build"
            />
          )}
        </div>
      </div>
      {build.error && (
        <div class="notice error" data-testid="build-error">
          {build.error}
        </div>
      )}
      <div class="grid two">
        <section class="card">
          <h2>Build</h2>
          <dl class="facts">
            <dt>Ref</dt>
            <dd>
              <code>{build.ref}</code>
            </dd>
            <dt>Commit</dt>
            <dd>
              <code>{build.commit ?? "—"}</code>
            </dd>
            <dt>Tags</dt>
            <dd>
              {build.tags.map((t) => (
                <code class="tag">{t}</code>
              ))}
            </dd>
            <dt>Trigger</dt>
            <dd>{build.trigger}</dd>
            <dt>Digest</dt>
            <dd>
              <code>{build.digest ?? "—"}</code>
            </dd>
            <dt>Manifest size</dt>
            <dd>
              <Bytes size={build.size} />
            </dd>
          </dl>
        </section>
        <section class="card">
          <h2>Stages and timings</h2>
          <table class="stages" data-testid="stages">
            <tbody>
              <tr>
                <th>Queued</th>
                <td>
                  <Time iso={build.queuedAt} />
                </td>
                <td>
                  {build.startedAt
                    ? `waited ${span(build.queuedAt, build.startedAt)}`
                    : active
                      ? "waiting for a worker"
                      : "—"}
                </td>
              </tr>
              {STAGES.map((stage, i) => {
                const began = build.stageStartedAt?.[stage];
                return (
                  <tr class={build.stage === stage && active ? "current" : undefined} data-stage={stage}>
                    <th>{stage}</th>
                    <td>
                      <Time iso={began} />
                    </td>
                    <td>{began ? span(began, stageEnd(i) ?? (active ? undefined : build.finishedAt)) : "—"}</td>
                  </tr>
                );
              })}
              <tr>
                <th>Finished</th>
                <td>
                  <Time iso={build.finishedAt} />
                </td>
                <td>{build.startedAt && build.finishedAt ? `ran ${span(build.startedAt, build.finishedAt)}` : "—"}</td>
              </tr>
            </tbody>
          </table>
        </section>
      </div>
      <section class="card">
        <h2>Log</h2>
        {mayReadLog ? (
          <pre
            class="log"
            data-testid="build-log"
            data-log-follow={build.id}
            data-active={active ? "true" : "false"}
          ></pre>
        ) : (
          <Refusal
            status={403}
            error={{
              error: "AccessDenied",
              message: "",
              action: "cr:GetRepositoryBuildLog",
              resource: arn.repository(build.region, session.principal.accountId, ns, repo),
              decision: "ImplicitDeny",
            }}
          />
        )}
      </section>
    </Page>
  );
}
