/** @jsxImportSource hono/jsx */
import type { RepoRef } from "./ref.ts";
import type { ApiResult } from "../../api-client.ts";
import type { BuildRule } from "../types.ts";
import { ApiButton, ApiForm, Empty, Field, Refusal } from "../../views/components.tsx";
import { ROUTE } from "./ref.ts";

export function RulesSection(props: {
  at: RepoRef;
  base: string;
  rules: ApiResult<{ rules: BuildRule[] }>;
  can: (route: string) => boolean;
}) {
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
                  {r.platforms?.length ? <div class="muted">{r.platforms.join(", ")}</div> : null}
                </td>
                <td>{r.enabled ? "yes" : "no"}</td>
                <td class="row-actions">
                  {mayEdit && (
                    <details>
                      <summary>Edit</summary>
                      <ApiForm
                        api={`${props.base}/build-rules/${r.id}`}
                        method="PATCH"
                        submit="Save rule"
                        testid={`edit-rule-${r.id}`}
                      >
                        <RuleFields rule={r} />
                        <label class="check">
                          <input type="checkbox" name="enabled" data-kind="bool" checked={r.enabled} /> Enabled
                        </label>
                      </ApiForm>
                    </details>
                  )}
                  {mayDelete && (
                    <ApiButton
                      api={`${props.base}/build-rules/${r.id}`}
                      method="DELETE"
                      label="Delete"
                      class="danger"
                      confirm={`Delete rule ${r.id}?`}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.can(`POST ${ROUTE}/build-rules/test`) && rules && rules.length > 0 && (
        <div class="subsection">
          <h3>Rule tester</h3>
          <ApiForm
            api={`${props.base}/build-rules/test`}
            then="show:rule-test"
            submit="Test"
            class="inline-form"
            testid="rule-tester"
          >
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
        <Field
          label="Image tags"
          hint="comma-separated templates: {sourceref}, {\1}, {name}, {shortsha}, {semver.major}"
        >
          <input
            name="tags"
            data-kind="list"
            required
            placeholder="{sourceref}, latest"
            value={rule?.tags.join(", ") ?? ""}
          />
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
      <Field label="Platforms" hint="e.g. linux/amd64, linux/arm64; empty builds the worker's own">
        <input
          name="platforms"
          data-kind="list"
          data-clearable
          placeholder="linux/amd64, linux/arm64"
          value={rule?.platforms?.join(", ") ?? ""}
        />
      </Field>
      <label class="check">
        <input type="checkbox" name="noCache" data-kind="bool" checked={rule?.noCache ?? false} /> Build without cache
      </label>
      <label class="check">
        <input type="checkbox" name="registryCache" data-kind="bool" checked={rule?.registryCache ?? true} /> Registry
        cache (export the build cache with the image; start from the last images' cache)
      </label>
    </>
  );
}
