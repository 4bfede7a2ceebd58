import { createRoute, z } from "@hono/zod-openapi";
import {
  createRepository,
  deleteRepository,
  dockerCommands,
  findRepository,
  listRepositories,
  listTags,
  repositoryView,
  updateRepository,
  type RepositoryRecord,
} from "../../catalog/repositories.ts";
import { DockerCommandsSchema, RepositoryViewSchema, TagViewSchema } from "../../catalog/schemas.ts";
import { loginNameOf } from "../../iam/principal.ts";
import { namespaceNameSchema, repositoryNameSchema } from "../../names.ts";
import type { Deps } from "../env.ts";
import { addRoute, type App } from "../route.ts";
import { body, errorResponses, json, OkSchema, RepoParams, VisibilitySchema } from "../schemas.ts";

export const RepositorySchema = RepositoryViewSchema.openapi("Repository");
export const CommandsSchema = DockerCommandsSchema;
export const TagSchema = TagViewSchema.openapi("Tag");
const RegionParam = z.object({ region: z.string() });
const Summary = z.string().max(100);
const Description = z.string().max(65536);

export function repositoryRoutes(app: App, deps: Deps): void {
  const { db } = deps;
  const tags = ["repositories"];
  const registryOf = (region: string) => deps.config.regions.find((r) => r.id === region)!.registry;
  const view = (r: RepositoryRecord) => repositoryView(r, registryOf(r.region));

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories",
      tags,
      summary: "Repositories of one region whose resource allows cr:ListRepository to the caller",
      request: { params: RegionParam, query: z.object({ namespace: namespaceNameSchema.optional() }) },
      responses: {
        200: json(z.object({ repositories: z.array(RepositorySchema) }), "Repositories"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const all = await listRepositories(
        db,
        c.get("principal").accountId,
        c.get("region"),
        c.req.valid("query").namespace,
      );
      const visible = c.get("filterAllowed")(all, (r) => ({ ns: r.namespace, repo: r.name }));
      return c.json({ repositories: visible.map(view) }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "post",
      path: "/api/v1/regions/{region}/repositories",
      tags,
      summary: "Create a repository in a namespace, in this region",
      request: {
        params: RegionParam,
        body: body(
          z.strictObject({
            namespace: namespaceNameSchema,
            name: repositoryNameSchema,
            visibility: VisibilitySchema.optional(),
            summary: Summary.optional(),
            description: Description.optional(),
          }),
        ),
      },
      responses: { 201: json(RepositorySchema, "The repository"), ...errorResponses },
    }),
    async (c) =>
      c.json(view(await createRepository(db, c.get("principal").accountId, c.get("region"), c.req.valid("json"))), 201),
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}",
      tags,
      summary: "One repository, with the docker commands to log in, tag, push and pull",
      request: { params: RepoParams },
      responses: {
        200: json(RepositorySchema.extend({ commands: CommandsSchema }), "The repository"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const principal = c.get("principal");
      const found = view(await findRepository(db, principal.accountId, c.get("region"), ns, repo));
      return c.json(
        { ...found, commands: dockerCommands(found.image, registryOf(found.region), loginNameOf(principal)) },
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "patch",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}",
      tags,
      summary: "Change visibility, summary or description",
      request: {
        params: RepoParams,
        body: body(
          z.strictObject({
            visibility: VisibilitySchema.optional(),
            summary: Summary.optional(),
            description: Description.optional(),
          }),
        ),
      },
      responses: { 200: json(RepositorySchema, "The repository"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      return c.json(
        view(await updateRepository(db, c.get("principal").accountId, c.get("region"), ns, repo, c.req.valid("json"))),
        200,
      );
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "delete",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}",
      tags,
      summary: "Delete a repository",
      request: { params: RepoParams },
      responses: { 200: json(OkSchema, "Deleted"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      await deleteRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);
      return c.json({ ok: true as const }, 200);
    },
  );

  addRoute(
    app,
    deps,
    createRoute({
      method: "get",
      path: "/api/v1/regions/{region}/repositories/{ns}/{repo}/tags",
      tags,
      summary: "Tags pushed to the repository, as the registry reported them",
      request: { params: RepoParams },
      responses: { 200: json(z.object({ tags: z.array(TagSchema) }), "Tags, newest first"), ...errorResponses },
    }),
    async (c) => {
      const { ns, repo } = c.req.valid("param");
      const found = await findRepository(db, c.get("principal").accountId, c.get("region"), ns, repo);
      return c.json({ tags: await listTags(db, found.id) }, 200);
    },
  );
}
