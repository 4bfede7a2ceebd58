/**
 * Domain errors: a stable code and a message a person can act on, with extra fields for the
 * answer body. Every layer throws these; only `api/errors.ts` decides which HTTP status a code
 * is answered with.
 */
export type ErrorCode =
  // a named thing does not exist
  | "UserNotFound"
  | "GroupNotFound"
  | "PolicyNotFound"
  | "PolicyNotAttached"
  | "NamespaceNotFound"
  | "RepositoryNotFound"
  | "RegionNotFound"
  | "SourceNotBound"
  | "HookNotFound"
  | "BuildRuleNotFound"
  | "BuildSecretNotFound"
  | "BuildNotFound"
  | "WebhookNotFound"
  | "WebhookDeliveryNotFound"
  // the state of a thing forbids the change
  | "AccountAlreadyExists"
  | "UserAlreadyExists"
  | "UserIsPushUser"
  | "GroupAlreadyExists"
  | "PolicyAlreadyExists"
  | "PolicyInUse"
  | "NamespaceAlreadyExists"
  | "NamespaceNotEmpty"
  | "RepositoryAlreadyExists"
  | "BuildActive"
  | "BuildFinished"
  // the input is wrong
  | "InvalidParameter"
  | "MalformedJSON"
  | "MalformedPolicyDocument"
  | "NoRuleMatches"
  // who is asking, and may they
  | "Unauthorized"
  | "InvalidCredentials"
  | "InvalidSignature"
  | "AccessDenied"
  | "CsrfRejected"
  | "TooManyRequests"
  | "ServiceUnavailable"
  // the Docker token protocol's own codes (registry/token-service.ts)
  | "INVALID_REQUEST"
  | "UNSUPPORTED"
  | "UNAUTHORIZED"
  | "TOOMANYREQUESTS";

/** Every error answer is `{"error": Code, "message": text, …extra}`. */
export class DomainError extends Error {
  override readonly name: string = "DomainError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers the answer should carry (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

export const notFound = (what: string, name: string, code: ErrorCode) =>
  new DomainError(code, `${what} "${name}" does not exist`);

export const conflict = (code: ErrorCode, message: string) => new DomainError(code, message);

export const invalid = (field: string, message: string) =>
  new DomainError("InvalidParameter", `${field}: ${message}`, { field });
