import { OpenAPIHono } from "@hono/zod-openapi";
import { trustProxies } from "./request-context.ts";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import type { AppEnv, Deps } from "./env.ts";
import { DomainError } from "../errors.ts";
import { statusOf } from "./errors.ts";
import { httpMetrics } from "./http-metrics.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { buildSecretRoutes } from "./routes/build-secrets.ts";
import { buildRoutes } from "./routes/builds.ts";
import { sourceRoutes } from "./routes/sources.ts";
import { groupRoutes } from "./routes/groups.ts";
import { namespaceRoutes } from "./routes/namespaces.ts";
import { policyRoutes } from "./routes/policies.ts";
import { registryAuthRoutes } from "./routes/registry-auth.ts";
import { registryRoutes } from "./routes/registry.ts";
import { repositoryRoutes } from "./routes/repositories.ts";
import { systemRoutes } from "./routes/system.ts";
import { userRoutes } from "./routes/users.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { docsPage } from "./docs-page.ts";

export const MAX_BODY_BYTES = 1024 * 1024;
/** GitHub sends webhook payloads of up to 25 MB; `/hooks/{hookId}` takes up to 25 MiB. */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

/** The body limit of a path: webhooks' payloads are larger than any API call's. */
const maxBodyOf = (path: string) => (path.startsWith("/hooks/") ? MAX_WEBHOOK_BODY_BYTES : MAX_BODY_BYTES);

/** `Statement[0].Condition` style paths, as the policy engine writes them. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
}

function validationError(error: ZodError, target: string): DomainError {
  const issues = error.issues.map((i) =>
    i.code === "unrecognized_keys"
      ? {
          field: fieldPath([...i.path, i.keys[0]!]),
          message: `unknown field${i.keys.length > 1 ? `s ${i.keys.map((k) => `"${k}"`).join(", ")}` : ""}`,
        }
      : { field: fieldPath(i.path) || target, message: i.message },
  );
  const message = issues.map((i) => `${i.field}: ${i.message}`).join("; ");
  return new DomainError("InvalidParameter", message, { field: issues[0]?.field, issues });
}

/**
 * Hono's bodyLimit reads `c.req.raw.body` first, which makes @hono/node-server build a full
 * Request (with an AbortSignal) for every call, GETs included: a third of a token request's
 * cost. A declared Content-Length is judged from the header alone (Node's parser reads no more
 * than it declares); only chunked bodies are counted by Hono's middleware as they stream in,
 * and answered 413 as soon as they pass the limit: no more than the limit is ever held.
 */
function limitBody(maxSizeOf: (path: string) => number): MiddlewareHandler {
  const limits = new Map<number, { tooLarge: (c: Context) => Response; counting: MiddlewareHandler }>();
  const limitOf = (maxSize: number) => {
    let limit = limits.get(maxSize);
    if (!limit) {
      const tooLarge = (c: Context) =>
        c.json({ error: "PayloadTooLarge", message: `the request body is larger than ${maxSize} bytes` }, 413);
      limit = { tooLarge, counting: bodyLimit({ maxSize, onError: tooLarge }) };
      limits.set(maxSize, limit);
    }
    return limit;
  };
  return (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const maxSize = maxSizeOf(c.req.path);
    const { tooLarge, counting } = limitOf(maxSize);
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      return Number(length) > maxSize ? Promise.resolve(tooLarge(c)) : next();
    }
    return counting(c, next);
  };
}

/**
 * The API's routes, OpenAPI document and docs page. The console is mounted over it and the
 * access table checked against every route by the composition (`src/server.ts`).
 */
export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const { metrics } = deps;
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as ZodError, result.target);
    },
  });

  app.use("*", trustProxies(deps.config.trustProxy));
  app.use("*", httpMetrics(metrics));
  app.use("*", limitBody(maxBodyOf));

  app.onError((err, c) => errorResponse(deps, err, c));
  app.notFound((c) => c.json({ error: "NotFound", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  systemRoutes(app, deps, metrics);
  accountRoutes(app, deps);
  userRoutes(app, deps);
  groupRoutes(app, deps);
  policyRoutes(app, deps);
  namespaceRoutes(app, deps);
  repositoryRoutes(app, deps);
  registryAuthRoutes(app, deps);
  registryRoutes(app, deps);
  sourceRoutes(app, deps);
  buildRoutes(app, deps);
  webhookRoutes(app, deps);
  buildSecretRoutes(app, deps);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Kiln",
      version: "0.1.0",
      description: "Container image builds and registry authorization with RAM-style policies",
    },
  });
  docsPage(app);
  return app;
}

function errorResponse(deps: Deps, err: Error, c: Context): Response {
  if (err instanceof DomainError) return c.json(err.toJSON(), statusOf(err), err.headers);
  if (err instanceof HTTPException) {
    if (err.status === 400)
      return c.json({ error: "MalformedJSON", message: `the request body is not valid JSON (${err.message})` }, 400);
    if (err.status === 415)
      return c.json({ error: "UnsupportedMediaType", message: "send the body as application/json" }, 415);
    return c.json({ error: "HttpError", message: err.message }, err.status);
  }
  deps.log.error({ err, method: c.req.method, path: c.req.path }, "unhandled error");
  return c.json({ error: "InternalError", message: "an internal error occurred; it has been logged" }, 500);
}
