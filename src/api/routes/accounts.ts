import { createRoute, z } from "@hono/zod-openapi";
import { createAccount } from "../../iam/accounts.ts";
import { NewAccountViewSchema } from "../../iam/schemas.ts";
import { loginNameOf } from "../../iam/principal.ts";
import { login } from "../../iam/sessions.ts";
import { revokeSession } from "../../iam/tokens.ts";
import { hasRegistryPassword, setConsolePassword, setRegistryPassword } from "../../iam/users.ts";
import { aliasSchema, passwordSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { callerToken } from "../enforce.ts";
import { DomainError } from "../../errors.ts";
import { statusOf } from "../errors.ts";
import { sourceIp } from "../request-context.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema } from "../schemas.ts";

const NewAccountSchema = NewAccountViewSchema.openapi("NewAccount");
const SessionSchema = z
  .object({ token: z.string(), expiresAt: z.string(), loginName: z.string(), mustSetRegistryPassword: z.boolean() })
  .openapi("Session");
const MeSchema = z
  .object({
    accountId: z.string(),
    alias: z.string(),
    kind: z.enum(["root", "user"]),
    loginName: z.string(),
    userName: z.string().optional(),
    hasRegistryPassword: z.boolean(),
  })
  .openapi("Me");
const PasswordBody = z.strictObject({ password: passwordSchema });

export function accountRoutes(app: App, deps: Deps): void {
  const { db } = deps;

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/accounts",
      tags: ["accounts"],
      summary: "Create a main account (needs KILN_ADMIN_TOKEN); the root token is shown once",
      request: { body: body(z.strictObject({ alias: aliasSchema, password: passwordSchema.optional() })) },
      responses: { 201: json(NewAccountSchema, "The account and its root token"), ...errorResponses },
    }),
    async (c) => {
      const account = await createAccount(db, c.req.valid("json"));
      deps.log.info({ accountId: account.id, alias: account.alias }, "account created");
      return c.json(account, 201);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/sessions",
      tags: ["accounts"],
      summary: "Log in with a console password: `alias` for root, `user@alias` for a sub-account",
      request: {
        body: body(z.strictObject({ loginName: z.string().min(1).max(200), password: z.string().min(1).max(1024) })),
      },
      responses: { 200: json(SessionSchema, "A console session"), ...errorResponses },
    }),
    async (c) => {
      const { loginName, password } = c.req.valid("json");
      const ip = sourceIp(c);
      const keys = [`login:${loginName}`, ...(ip ? [`ip:${ip}`] : [])];
      const wait = await deps.consoleThrottle.retryAfter(keys);
      if (wait > 0)
        throw new DomainError(
          "TooManyRequests",
          `too many failed logins; try again in ${wait} s`,
          { retryAfter: wait },
          { "Retry-After": String(wait) },
        );
      const session = await login(db, loginName, password).catch(async (err: unknown) => {
        if (err instanceof DomainError && statusOf(err) === 401) await deps.consoleThrottle.fail(keys);
        throw err;
      });
      await deps.consoleThrottle.succeed(keys[0]!);
      return c.json(
        {
          token: session.token,
          expiresAt: session.expiresAt,
          loginName: loginNameOf(session.principal),
          mustSetRegistryPassword: session.mustSetRegistryPassword,
        },
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/sessions/current",
      tags: ["accounts"],
      summary: "Log out: end the console session that signs this call",
      responses: {
        200: json(z.object({ revoked: z.boolean() }), "Whether a session ended (an access key is not a session)"),
        ...errorResponses,
      },
    }),
    async (c) => c.json({ revoked: await revokeSession(db, callerToken(c)!) }, 200),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/me",
      tags: ["accounts"],
      summary: "Who the token belongs to",
      responses: { 200: json(MeSchema, "The caller"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      return c.json(
        {
          accountId: p.accountId,
          alias: p.alias,
          kind: p.kind,
          loginName: loginNameOf(p),
          userName: p.userName,
          hasRegistryPassword: await hasRegistryPassword(db, p),
        },
        200,
      );
    },
  );

  for (const [path, kind, set] of [
    ["/api/v1/me/password", "console", setConsolePassword],
    [
      "/api/v1/me/registry-password",
      "registry (docker login; separate from the console password)",
      setRegistryPassword,
    ],
  ] as const) {
    addRoute(
      app,
      deps,
      createRoute({
        method: "put",
        path,
        tags: ["accounts"],
        summary: `Set the caller's ${kind} password`,
        request: { body: body(PasswordBody) },
        responses: { 200: json(OkSchema, "Changed"), ...errorResponses },
      }),
      async (c) => {
        await set(db, c.get("principal"), c.req.valid("json").password);
        return c.json({ ok: true as const }, 200);
      },
    );
  }
}
