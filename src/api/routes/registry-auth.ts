import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { TokenAnswerSchema } from "../../registry/schemas.ts";
import { TokenError, type TokenAuth, type TokenRequest } from "../../registry/token-service.ts";
import type { Deps } from "../env.ts";
import { statusOf } from "../errors.ts";
import { requestContext, sourceIp } from "../request-context.ts";
import { addRoute, type App } from "../route.ts";
import { json } from "../schemas.ts";

const TokenSchema = TokenAnswerSchema.openapi("RegistryToken");
const TokenErrorSchema = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string() })),
  details: z.string(),
});
const responses = {
  200: json(TokenSchema, "A registry bearer token holding the granted actions of each scope"),
  400: json(TokenErrorSchema, "Unknown service or malformed scope"),
  401: json(TokenErrorSchema, "Wrong credentials (docker shows `details`)"),
  429: json(TokenErrorSchema, "Too many failed logins; see Retry-After"),
};

function basicAuth(header: string | undefined): TokenAuth {
  const m = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!m) return { kind: "anonymous" };
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return { kind: "password", username: decoded, password: "" };
  return { kind: "password", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Errors as distribution's client reads them: `details` for 401 messages, `errors` for the rest. */
function failure(c: Context, err: TokenError): Response {
  if (err.retryAfter) c.header("Retry-After", String(err.retryAfter));
  const status = statusOf(err);
  if (status === 401) c.header("WWW-Authenticate", 'Basic realm="kiln"');
  return c.json(
    { errors: [{ code: err.code, message: err.message }], details: err.message, error: err.code, message: err.message },
    status,
  );
}

export function registryAuthRoutes(app: App, deps: Deps): void {
  const answer = async (c: Context, req: TokenRequest) => {
    try {
      return c.json(await deps.tokens.issue(req), 200);
    } catch (err) {
      if (err instanceof TokenError) return failure(c, err);
      throw err;
    }
  };

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/auth/token",
      tags: ["registry"],
      summary: "Docker registry token (GET): Basic auth with the registry password, or anonymous",
      description:
        "Query: `service` (region id), `scope` (repeatable; space-separated allowed), `account`, `offline_token=true` to get a refresh token.",
      responses,
    }),
    (c) =>
      answer(c, {
        service: c.req.query("service"),
        scopes: c.req.queries("scope") ?? [],
        auth: basicAuth(c.req.header("authorization")),
        offline: c.req.query("offline_token") === "true",
        context: requestContext(c),
        sourceIp: sourceIp(c),
      }) as never,
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/auth/token",
      tags: ["registry"],
      summary: "Docker registry token (POST, OAuth2 form): grant_type=refresh_token or password",
      description:
        "Form fields: `grant_type`, `service`, `scope` (space-separated), `client_id`, `access_type=offline`, `refresh_token`, `username`, `password`.",
      responses,
    }),
    async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const grant = form.get("grant_type");
      const auth: TokenAuth =
        grant === "refresh_token"
          ? { kind: "refresh", token: form.get("refresh_token") ?? "" }
          : grant === "password"
            ? { kind: "password", username: form.get("username") ?? "", password: form.get("password") ?? "" }
            : basicAuth(c.req.header("authorization"));
      if (grant !== null && grant !== "refresh_token" && grant !== "password") {
        return failure(
          c,
          new TokenError("UNSUPPORTED", `grant_type "${grant}" is not supported (use refresh_token or password)`),
        ) as never;
      }
      return answer(c, {
        service: form.get("service") ?? undefined,
        scopes: form.getAll("scope"),
        auth,
        offline: form.get("access_type") === "offline",
        context: requestContext(c),
        sourceIp: sourceIp(c),
      }) as never;
    },
  );
}
