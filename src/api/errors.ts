import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every error answer is `{"error": Code, "message": text, …extra}`. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

export const notFound = (what: string, name: string, code: string) =>
  new ApiError(404, code, `${what} "${name}" does not exist`);

export const conflict = (code: string, message: string) => new ApiError(409, code, message);

export const invalid = (field: string, message: string) =>
  new ApiError(400, "InvalidParameter", `${field}: ${message}`, { field });
