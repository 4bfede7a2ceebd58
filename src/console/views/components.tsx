/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { ApiErrorBody } from "../api-client.ts";

/** A refused API call, readable: what was asked, on what, and why not. */
export function Refusal({ status, error, what }: { status: number; error: ApiErrorBody; what?: string }) {
  const denied = error.error === "AccessDenied" && error.action;
  return (
    <div class="notice error" role="alert" data-testid="refusal">
      <strong>{what ? `${what}: ` : ""}</strong>
      {denied ? (
        <>
          You may not do <code>{error.action}</code> on <code>{error.resource}</code> (
          {error.decision === "ExplicitDeny" ? "a policy denies it" : "no policy allows it"}).
        </>
      ) : (
        <>
          {error.message}{" "}
          <span class="muted">
            ({status} {error.error})
          </span>
        </>
      )}
    </div>
  );
}

/**
 * A form the browser script sends to the API as JSON (`data-api`), showing the API's answer or
 * error in its output area. `then`: "reload", a URL template like `/console/builds/{builds.0.id}`,
 * or `show:<renderer>` to show the answer in place (secrets shown once, a simulation, …).
 */
export function ApiForm(props: {
  api: string;
  method?: string;
  then?: string;
  confirm?: string;
  class?: string;
  testid?: string;
  submit: string;
  children?: Child;
}) {
  return (
    <form
      class={`api-form ${props.class ?? ""}`}
      data-api={props.api}
      data-method={props.method ?? "POST"}
      data-then={props.then ?? "reload"}
      data-confirm={props.confirm}
      data-testid={props.testid}
    >
      {props.children}
      <div class="actions">
        <button type="submit">{props.submit}</button>
      </div>
      <div class="output" data-output aria-live="polite"></div>
    </form>
  );
}

/** A single button that makes one API call (cancel, retry, delete, detach). */
export function ApiButton(props: {
  api: string;
  method?: string;
  then?: string;
  confirm?: string;
  label: string;
  class?: string;
  testid?: string;
}) {
  return (
    <form
      class="api-form inline"
      data-api={props.api}
      data-method={props.method ?? "POST"}
      data-then={props.then ?? "reload"}
      data-confirm={props.confirm}
      data-testid={props.testid}
    >
      <button type="submit" class={props.class}>
        {props.label}
      </button>
      <span class="output" data-output aria-live="polite"></span>
    </form>
  );
}

export function Field(props: { label: string; hint?: string; children: Child }) {
  return (
    <label class="field">
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

export function Status({ status }: { status: string }) {
  return (
    <span class={`status status-${status}`} data-status={status}>
      {status}
    </span>
  );
}

export function Time({ iso }: { iso?: string | null }) {
  if (!iso) return <span class="muted">—</span>;
  return <time datetime={iso}>{iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")}</time>;
}

export function Bytes({ size }: { size?: number | null }) {
  if (size === undefined || size === null) return <span class="muted">—</span>;
  const units = ["B", "KB", "MB", "GB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return <span>{`${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`}</span>;
}

/** A command with a copy button. */
export function Command({ text, testid }: { text: string; testid?: string }) {
  return (
    <div class="command">
      <code data-testid={testid}>{text}</code>
      <button type="button" class="copy" data-copy={text} title="Copy">
        Copy
      </button>
    </div>
  );
}

export function Empty({ children }: { children: Child }) {
  return <p class="empty">{children}</p>;
}
