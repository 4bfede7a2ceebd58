import { tokenHeaderProvider } from "./gitlab.ts";

/**
 * Alibaba Cloud Codeup: GitLab's payloads under its own headers; no delivery id (Kiln hashes the
 * body). Codeup's documentation prints the event header as `Codeup-Event`; `X-Codeup-Event` is
 * read too, and when neither is sent the body's `object_kind` says what happened.
 */
export const codeup = tokenHeaderProvider("codeup", "x-codeup-token", ["codeup-event", "x-codeup-event"], {
  eventFromBody: true,
});
