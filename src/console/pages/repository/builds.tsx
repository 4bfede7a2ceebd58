/** @jsxImportSource hono/jsx */
import type { ApiResult } from "../../api-client.ts";
import type { Build } from "../types.ts";
import { ApiForm, Empty, Field, Refusal, Status, Time } from "../../views/components.tsx";

export function BuildsSection(props: { base: string; builds: ApiResult<{ builds: Build[] }>; mayBuild: boolean }) {
  return (
    <section class="card" data-testid="builds">
      <h2>Builds</h2>
      {props.mayBuild && (
        <ApiForm
          api={`${props.base}/builds`}
          then="/console/builds/{builds.0.id}"
          submit="Build now"
          class="inline-form"
          testid="build-now"
        >
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
