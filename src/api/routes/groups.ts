import { createRoute, z } from "@hono/zod-openapi";
import { addMember, createGroup, findGroup, listGroups, membersOf } from "../../iam/groups.ts";
import { attachPolicy, findPolicy, policiesAttachedTo } from "../../iam/policies.ts";
import { PolicyTypeSchema } from "../../iam/schemas.ts";
import { findUser } from "../../iam/users.ts";
import { groupNameSchema, policyNameSchema, userNameSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema } from "../schemas.ts";

export const GroupSchema = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.string(),
    members: z.array(z.string()).optional(),
    policies: z.array(z.string()).optional(),
  })
  .openapi("Group");
const GroupParam = z.object({ g: groupNameSchema });

export function groupRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["groups"];
  const view = (g: { name: string; description: string | null; createdAt: string }) => ({
    name: g.name,
    description: g.description,
    createdAt: g.createdAt,
  });

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/groups",
      tags,
      summary: "Create a group",
      request: { body: body(z.strictObject({ name: groupNameSchema, description: z.string().max(256).optional() })) },
      responses: { 201: json(GroupSchema, "The group"), ...errorResponses },
    }),
    async (c) => c.json(view(await createGroup(db, c.get("principal").accountId, c.req.valid("json"))), 201),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/groups",
      tags,
      summary: "List groups",
      responses: { 200: json(z.object({ groups: z.array(GroupSchema) }), "Groups"), ...errorResponses },
    }),
    async (c) => c.json({ groups: (await listGroups(db, c.get("principal").accountId)).map(view) }, 200),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/groups/{g}",
      tags,
      summary: "A group with its members and policies",
      request: { params: GroupParam },
      responses: { 200: json(GroupSchema, "The group"), ...errorResponses },
    }),
    async (c) => {
      const group = await findGroup(db, c.get("principal").accountId, c.req.valid("param").g);
      return c.json(
        {
          ...view(group),
          members: await membersOf(db, group.id),
          policies: (await policiesAttachedTo(db, "group", group.id)).map((p) => p.name),
        },
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/groups/{g}/members",
      tags,
      summary: "Add a sub-account to a group",
      request: { params: GroupParam, body: body(z.strictObject({ userName: userNameSchema })) },
      responses: { 200: json(OkSchema, "Added"), ...errorResponses },
    }),
    async (c) => {
      const accountId = c.get("principal").accountId;
      const group = await findGroup(db, accountId, c.req.valid("param").g);
      await addMember(db, group.id, (await findUser(db, accountId, c.req.valid("json").userName)).id);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/groups/{g}/policies",
      tags,
      summary: "Attach a policy to a group; its members get it",
      request: {
        params: GroupParam,
        body: body(z.strictObject({ policyName: policyNameSchema, policyType: PolicyTypeSchema.optional() })),
      },
      responses: { 200: json(OkSchema, "Attached"), ...errorResponses },
    }),
    async (c) => {
      const accountId = c.get("principal").accountId;
      const group = await findGroup(db, accountId, c.req.valid("param").g);
      const { policyName, policyType } = c.req.valid("json");
      await attachPolicy(db, (await findPolicy(db, accountId, policyName, policyType)).id, "group", group.id);
      return c.json({ ok: true as const }, 200);
    },
  );
}
