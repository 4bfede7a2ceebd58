/** @jsxImportSource hono/jsx */
import type { z } from "@hono/zod-openapi";
import type { RepoRef } from "./ref.ts";
import type { WebhookDeliverySchema, WebhookSchema } from "../../../api/routes/webhooks.ts";
import type { ApiResult } from "../../api-client.ts";
import type { ConsoleSession } from "../../session.ts";
import { ApiButton, ApiForm, Empty, Field, Refusal, Status, Time } from "../../views/components.tsx";
import { ROUTE } from "./ref.ts";

type Webhook = z.infer<typeof WebhookSchema>;
type Delivery = z.infer<typeof WebhookDeliverySchema>;

const filterText = (w: Webhook) =>
  w.tagFilter.kind === "all"
    ? "all tags"
    : w.tagFilter.kind === "list"
      ? w.tagFilter.tags.join(", ")
      : `/${w.tagFilter.regex}/ (whole tag)`;

/**
 * The repository's outbound webhooks (ACR's triggers): where Kiln POSTs tag pushes and build
 * outcomes, each webhook's recent deliveries with their answers, Redeliver, and a form to add one
 * (its secret is shown once, in the form's answer). Offered only to a caller who may list or add.
 */
export async function WebhooksSection(props: {
  session: ConsoleSession;
  at: RepoRef;
  base: string;
  can: (route: string) => boolean;
}) {
  const mayList = props.can(`GET ${ROUTE}/webhooks`);
  const mayCreate = props.can(`POST ${ROUTE}/webhooks`);
  if (!mayList && !mayCreate) return null;
  const mayDelete = props.can(`DELETE ${ROUTE}/webhooks/{id}`);
  const mayRedeliver = props.can(`POST ${ROUTE}/webhooks/{id}/deliveries/{deliveryId}/redeliver`);
  const api = `${props.base}/webhooks`;
  const listed = mayList ? await props.session.api.get<{ webhooks: Webhook[] }>(api) : undefined;
  const hooks = listed?.ok ? listed.data.webhooks : [];
  const deliveries = await Promise.all(
    hooks.map((w) => props.session.api.get<{ deliveries: Delivery[] }>(`${api}/${w.id}/deliveries?limit=10`)),
  );
  return (
    <section class="card" id="webhooks" data-testid="webhooks">
      <h2>Webhooks</h2>
      <p class="muted">
        Kiln POSTs JSON to these URLs when a tag is pushed (by a build or by <code>docker push</code>) or a build
        succeeds or fails, signed with <code>X-Kiln-Signature-256</code>; a failed delivery is tried again for about an
        hour.
      </p>
      {!listed ? null : !listed.ok ? (
        <Refusal status={listed.status} error={listed.error} />
      ) : hooks.length === 0 ? (
        <Empty>No webhook.</Empty>
      ) : (
        hooks.map((w, i) => (
          <div class="subsection" data-webhook={w.id}>
            <h3>
              {w.name ?? `Webhook ${w.id}`} {!w.enabled && <span class="pill">disabled</span>}
            </h3>
            <dl class="facts">
              <dt>URL</dt>
              <dd>
                <code data-testid={`webhook-url-${w.id}`}>{w.url}</code>
              </dd>
              <dt>Events</dt>
              <dd>
                {w.events.map((e) => (
                  <code class="tag">{e}</code>
                ))}
              </dd>
              <dt>Tags</dt>
              <dd>{filterText(w)}</dd>
            </dl>
            {mayDelete && (
              <ApiButton
                api={`${api}/${w.id}`}
                method="DELETE"
                label="Delete webhook"
                class="danger"
                confirm={`Delete the webhook to ${w.url} and its deliveries?`}
                testid={`delete-webhook-${w.id}`}
              />
            )}
            <Deliveries
              api={`${api}/${w.id}`}
              result={deliveries[i]!}
              mayRedeliver={mayRedeliver}
              testid={`deliveries-${w.id}`}
            />
          </div>
        ))
      )}
      {mayCreate && (
        <details class="subsection" data-testid="add-webhook-details">
          <summary>Add a webhook</summary>
          <ApiForm api={api} then="show:webhook" submit="Add webhook" testid="add-webhook">
            <div class="grid two">
              <Field label="URL" hint="http:// or https://; Kiln POSTs JSON here">
                <input name="url" required placeholder="https://ci.example.com/kiln" />
              </Field>
              <Field label="Name" hint="optional">
                <input name="name" maxlength={64} />
              </Field>
              <Field label="Events" hint="comma-separated: tag.pushed, build.succeeded, build.failed">
                <input name="events" data-kind="list" required value="tag.pushed, build.succeeded, build.failed" />
              </Field>
              <Field label="Tags">
                <select name="tagFilter.kind">
                  <option value="all" selected>
                    all tags
                  </option>
                  <option value="list">a list of tags</option>
                  <option value="regex">a regex (whole tag)</option>
                </select>
              </Field>
              <Field label="Tag list" hint="with “a list of tags”: comma-separated">
                <input name="tagFilter.tags" data-kind="list" placeholder="latest, stable" />
              </Field>
              <Field label="Tag regex" hint="with “a regex”: must match the whole tag">
                <input name="tagFilter.regex" placeholder="v\d+\.\d+\.\d+" />
              </Field>
            </div>
          </ApiForm>
        </details>
      )}
    </section>
  );
}

function Deliveries(props: {
  api: string;
  result: ApiResult<{ deliveries: Delivery[] }>;
  mayRedeliver: boolean;
  testid: string;
}) {
  const r = props.result;
  if (!r.ok) return <Refusal status={r.status} error={r.error} />;
  const list = r.data.deliveries;
  if (list.length === 0) return <Empty>No delivery yet.</Empty>;
  return (
    <table data-testid={props.testid}>
      <thead>
        <tr>
          <th>Delivery</th>
          <th>Event</th>
          <th>Status</th>
          <th>Tries</th>
          <th>Answer</th>
          <th>Latency</th>
          <th>Created</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {list.map((d) => (
          <tr data-delivery={d.id}>
            <td>
              <code title={d.id}>{d.id.slice(4, 12)}</code>
              {d.redeliveryOf && <span class="muted"> (again)</span>}
            </td>
            <td>
              <code>{d.event}</code>
            </td>
            <td>
              <Status status={d.status} />
            </td>
            <td>{d.attempts}</td>
            <td>
              {d.lastStatusCode ?? "—"}
              {d.error && <span class="muted"> {d.error}</span>}
              {d.response && (
                <details>
                  <summary>body</summary>
                  <pre class="json">{d.response}</pre>
                </details>
              )}
            </td>
            <td>{d.latencyMs === null ? "—" : `${d.latencyMs} ms`}</td>
            <td>
              <Time iso={d.createdAt} />
            </td>
            <td class="row-actions">
              {props.mayRedeliver && (
                <ApiButton
                  api={`${props.api}/deliveries/${d.id}/redeliver`}
                  label="Redeliver"
                  testid={`redeliver-${d.id}`}
                />
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
