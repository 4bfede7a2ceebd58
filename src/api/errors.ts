import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DomainError, ErrorCode } from "../errors.ts";

/** The one place where an error code becomes an HTTP status. */
const STATUS: Readonly<Record<ErrorCode, ContentfulStatusCode>> = {
  UserNotFound: 404,
  GroupNotFound: 404,
  PolicyNotFound: 404,
  PolicyNotAttached: 404,
  NamespaceNotFound: 404,
  RepositoryNotFound: 404,
  RegionNotFound: 404,
  SourceNotBound: 404,
  HookNotFound: 404,
  BuildRuleNotFound: 404,
  BuildSecretNotFound: 404,
  BuildNotFound: 404,
  WebhookNotFound: 404,
  WebhookDeliveryNotFound: 404,

  AccountAlreadyExists: 409,
  UserAlreadyExists: 409,
  UserIsPushUser: 409,
  GroupAlreadyExists: 409,
  PolicyAlreadyExists: 409,
  PolicyInUse: 409,
  NamespaceAlreadyExists: 409,
  NamespaceNotEmpty: 409,
  RepositoryAlreadyExists: 409,
  BuildActive: 409,
  BuildFinished: 409,

  InvalidParameter: 400,
  MalformedJSON: 400,
  MalformedPolicyDocument: 400,
  NoRuleMatches: 422,

  Unauthorized: 401,
  InvalidCredentials: 401,
  InvalidSignature: 401,
  AccessDenied: 403,
  CsrfRejected: 403,
  TooManyRequests: 429,
  ServiceUnavailable: 503,

  INVALID_REQUEST: 400,
  UNSUPPORTED: 400,
  UNAUTHORIZED: 401,
  TOOMANYREQUESTS: 429,
};

export function statusOf(err: DomainError): ContentfulStatusCode {
  return STATUS[err.code];
}
