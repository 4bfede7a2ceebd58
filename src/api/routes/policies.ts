import { createRoute, z } from "@hono/zod-openapi";
import {
  attachmentCount,
  createPolicy,
  deletePolicy,
  findPolicy,
  listPolicies,
  parseDocument,
  policyView,
} from "../../iam/policies.ts";
import { PolicyTypeSchema, PolicyViewSchema } from "../../iam/schemas.ts";
import { findUser } from "../../iam/users.ts";
import { evaluate, parsePolicy, PolicyError } from "../../policy/index.ts";
import { policyNameSchema, userNameSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { invalid } from "../../errors.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema } from "../schemas.ts";

export const PolicySchema = PolicyViewSchema.openapi("Policy");
/** Parsed by the policy engine, which names the offending element; zod only checks it is there. */
const DocumentSchema = z
  .union([z.record(z.string(), z.unknown()), z.string()])
  .openapi({ description: 'A RAM policy document: {"Version":"1","Statement":[…]}, or its JSON text' });
const ContextSchema = z.record(
  z.string().max(128),
  z.union([z.string().max(1024), z.array(z.string().max(1024)).max(64)]),
);
const SimulationSchema = z
  .object({
    decision: z.enum(["Allow", "ExplicitDeny", "ImplicitDeny"]),
    matched: z.array(
      z.object({
        policy: z.string().optional(),
        statement: z.number(),
        effect: z.enum(["Allow", "Deny"]),
        sid: z.string().optional(),
      }),
    ),
  })
  .openapi("Simulation");
const ValidationSchema = z
  .union([
    z.object({ valid: z.literal(true), statements: z.number() }),
    z.object({ valid: z.literal(false), path: z.string(), message: z.string() }),
  ])
  .openapi("PolicyValidation");
const NameParam = z.object({ name: policyNameSchema });

export function policyRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["policies"];

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/policies",
      tags,
      summary: "Create a custom policy; a malformed document is refused with the path of the bad element",
      request: {
        body: body(
          z.strictObject({
            name: policyNameSchema,
            document: DocumentSchema,
            description: z.string().max(1024).optional(),
          }),
        ),
      },
      responses: { 201: json(PolicySchema, "The policy"), ...errorResponses },
    }),
    async (c) => c.json(policyView(await createPolicy(db, c.get("principal").accountId, c.req.valid("json")), 0), 201),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/policies",
      tags,
      summary: "System and custom policies",
      request: { query: z.object({ type: PolicyTypeSchema.optional() }) },
      responses: { 200: json(z.object({ policies: z.array(PolicySchema) }), "Policies"), ...errorResponses },
    }),
    async (c) => {
      const policies = [];
      for (const p of await listPolicies(db, c.get("principal").accountId, c.req.valid("query").type))
        policies.push(policyView(p, await attachmentCount(db, p.id)));
      return c.json({ policies }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/policies/{name}",
      tags,
      summary: "One policy with its document",
      request: { params: NameParam, query: z.object({ type: PolicyTypeSchema.optional() }) },
      responses: { 200: json(PolicySchema, "The policy"), ...errorResponses },
    }),
    async (c) => {
      const row = await findPolicy(
        db,
        c.get("principal").accountId,
        c.req.valid("param").name,
        c.req.valid("query").type,
      );
      return c.json(policyView(row, await attachmentCount(db, row.id)), 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/policies/{name}",
      tags,
      summary: "Delete a custom policy that is attached to nobody",
      request: { params: NameParam },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      const row = await deletePolicy(db, c.get("principal").accountId, c.req.valid("param").name);
      deps.policies.forget(row.id);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/policies/simulate",
      tags,
      summary: "Evaluate inline documents, or a user's policies, against exactly the given request and context",
      request: {
        body: body(
          z.strictObject({
            policies: z.array(DocumentSchema).max(100).optional(),
            userName: userNameSchema.optional(),
            action: z.string().min(1).max(128),
            resource: z.string().min(1).max(1024),
            context: ContextSchema.optional(),
          }),
        ),
      },
      responses: { 200: json(SimulationSchema, "The decision and the statements that made it"), ...errorResponses },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const accountId = c.get("principal").accountId;
      if ((input.policies === undefined) === (input.userName === undefined))
        throw invalid("policies", "give either policies (inline documents) or userName, not both and not neither");
      const policies = input.policies
        ? input.policies.map((doc, i) => parseDocument(doc, `policies[${i}]`, `policies[${i}]`))
        : await deps.policies.forUser((await findUser(db, accountId, input.userName!)).id);
      return c.json(
        evaluate(policies, { action: input.action, resource: input.resource, context: input.context ?? {} }),
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/policies/validate",
      tags,
      summary: "Check a policy document without saving it (the console's editor checks as you type)",
      request: { body: body(z.strictObject({ document: DocumentSchema })) },
      responses: {
        200: json(ValidationSchema, "Whether the document is valid, else the path of the bad element"),
        ...errorResponses,
      },
    }),
    (c) => {
      try {
        const policy = parsePolicy(c.req.valid("json").document);
        return c.json({ valid: true as const, statements: policy.statements.length }, 200);
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        return c.json(
          { valid: false as const, path: err.path, message: err.path ? `${err.path}: ${err.reason}` : err.reason },
          200,
        );
      }
    },
  );
}
