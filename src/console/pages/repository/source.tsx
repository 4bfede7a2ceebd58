/** @jsxImportSource hono/jsx */
import type { RepoRef } from "./ref.ts";
import type { ApiResult } from "../../api-client.ts";
import type { SourceBinding, User } from "../types.ts";
import { ApiForm, Empty, Field, Refusal } from "../../views/components.tsx";
import { PROVIDER_IDS } from "../../../sources/providers/index.ts";

export function SourceSection(props: {
  at: RepoRef;
  base: string;
  source: ApiResult<SourceBinding>;
  mayBind: boolean;
  users?: User[];
}) {
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
          <ApiForm
            api={`${props.base}/source`}
            method="PUT"
            then="show:binding"
            submit={bound ? "Save binding" : "Bind"}
            testid="bind-source"
          >
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
              <input type="checkbox" name="autoBuild" data-kind="bool" checked={bound?.autoBuild ?? true} /> Build on
              push
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
