import { createRoute, z } from "@hono/zod-openapi";
import {
  groupsOfUser,
  createUser,
  deleteUser,
  findUser,
  listUsers,
  setConsolePassword,
  setRegistryPassword,
  userView,
} from "../../iam/users.ts";
import { attachPolicy, detachPolicy, findPolicy, policiesAttachedTo } from "../../iam/policies.ts";
import { PolicyTypeSchema, UserViewSchema } from "../../iam/schemas.ts";
import { issueAccessKey } from "../../iam/tokens.ts";
import { assertNotPushUser } from "../../sources/bindings.ts";
import { passwordSchema, policyNameSchema, userNameSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { DomainError } from "../../errors.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema } from "../schemas.ts";

export const UserSchema = UserViewSchema.extend({ groups: z.array(z.string()).optional() }).openapi("User");
const AttachedPolicySchema = z.object({ name: z.string(), type: PolicyTypeSchema });
const NameParam = z.object({ name: userNameSchema });
const PasswordBody = z.strictObject({ password: passwordSchema });

export function userRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["users"];

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/users",
      tags,
      summary: "Create a sub-account (RAM user)",
      request: {
        body: body(
          z.strictObject({
            name: userNameSchema,
            password: passwordSchema.optional(),
            displayName: z.string().max(128).optional(),
          }),
        ),
      },
      responses: { 201: json(UserSchema, "The new user"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      const user = await createUser(db, p.accountId, c.req.valid("json"));
      return c.json(userView(user, p.alias), 201);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/users",
      tags,
      summary: "List sub-accounts",
      responses: { 200: json(z.object({ users: z.array(UserSchema) }), "Users"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      return c.json({ users: (await listUsers(db, p.accountId)).map((u) => userView(u, p.alias)) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/users/{name}",
      tags,
      summary: "One sub-account",
      request: { params: NameParam },
      responses: { 200: json(UserSchema, "The user"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      const user = await findUser(db, p.accountId, c.req.valid("param").name);
      return c.json({ ...userView(user, p.alias), groups: await groupsOfUser(db, user.id) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/users/{name}",
      tags,
      summary: "Delete a sub-account",
      request: { params: NameParam },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      const { accountId } = c.get("principal");
      const { name } = c.req.valid("param");
      // A user that pushes the builds of a bound repository stays until another push user is chosen.
      await assertNotPushUser(db, (await findUser(db, accountId, name)).id, name);
      await deleteUser(db, accountId, name);
      return c.json({ ok: true as const }, 200);
    },
  );

  for (const [path, kind] of [
    ["/api/v1/users/{name}/password", "console"],
    ["/api/v1/users/{name}/registry-password", "registry"],
  ] as const) {
    addRoute(
      app,
      deps,
      createRoute({
        method: "put",
        path,
        tags,
        summary: `Set a sub-account's ${kind} password`,
        request: { params: NameParam, body: body(PasswordBody) },
        responses: { 200: json(OkSchema, "Changed"), ...errorResponses },
      }),
      async (c) => {
        const p = c.get("principal");
        const user = await findUser(db, p.accountId, c.req.valid("param").name);
        const set = kind === "console" ? setConsolePassword : setRegistryPassword;
        await set(db, { accountId: p.accountId, userId: user.id }, c.req.valid("json").password);
        return c.json({ ok: true as const }, 200);
      },
    );
  }

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/users/{name}/access-keys",
      tags,
      summary: "Create an API access key for a sub-account; the token is shown once",
      request: { params: NameParam },
      responses: { 201: json(z.object({ id: z.string(), token: z.string() }), "The key"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      const user = await findUser(db, p.accountId, c.req.valid("param").name);
      return c.json(await issueAccessKey(db, p.accountId, user.id), 201);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/users/{name}/policies",
      tags,
      summary: "Policies attached to a sub-account (not those of its groups)",
      request: { params: NameParam },
      responses: {
        200: json(z.object({ policies: z.array(AttachedPolicySchema) }), "Attached policies"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const user = await findUser(db, c.get("principal").accountId, c.req.valid("param").name);
      return c.json(
        { policies: (await policiesAttachedTo(db, "user", user.id)).map((r) => ({ name: r.name, type: r.type })) },
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/users/{name}/policies",
      tags,
      summary: "Attach a policy to a sub-account",
      request: {
        params: NameParam,
        body: body(z.strictObject({ policyName: policyNameSchema, policyType: PolicyTypeSchema.optional() })),
      },
      responses: { 200: json(OkSchema, "Attached"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      const user = await findUser(db, p.accountId, c.req.valid("param").name);
      const { policyName, policyType } = c.req.valid("json");
      await attachPolicy(db, (await findPolicy(db, p.accountId, policyName, policyType)).id, "user", user.id);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/users/{name}/policies/{policyName}",
      tags,
      summary: "Detach a policy from a sub-account",
      request: {
        params: z.object({ name: userNameSchema, policyName: policyNameSchema }),
        query: z.object({ policyType: PolicyTypeSchema.optional() }),
      },
      responses: { 200: json(OkSchema, "Detached"), ...errorResponses },
    }),
    async (c) => {
      const p = c.get("principal");
      const { name, policyName } = c.req.valid("param");
      const user = await findUser(db, p.accountId, name);
      const policy = await findPolicy(db, p.accountId, policyName, c.req.valid("query").policyType);
      if (!(await detachPolicy(db, policy.id, "user", user.id))) {
        throw new DomainError("PolicyNotAttached", `policy "${policyName}" is not attached to user "${name}"`);
      }
      return c.json({ ok: true as const }, 200);
    },
  );
}
