import { tokenHeaderProvider } from "./gitlab.ts";

/** Alibaba Cloud Codeup: GitLab's payloads under its own headers; no delivery id (Kiln hashes the body). */
export const codeup = tokenHeaderProvider("codeup", "x-codeup-token", "x-codeup-event");
