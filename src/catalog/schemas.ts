import { z } from "zod";
import { VISIBILITIES } from "../db/enums.ts";

/** The catalog's answers: the API names them for OpenAPI; the types below are what the views return. */
export const VisibilitySchema = z.enum(VISIBILITIES);

export const NamespaceViewSchema = z.object({
  name: z.string(),
  autoCreateRepository: z.boolean(),
  defaultVisibility: VisibilitySchema,
  repositoryCount: z.number(),
  createdAt: z.string(),
});
export type NamespaceView = z.infer<typeof NamespaceViewSchema>;

export const RepositoryViewSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  region: z.string(),
  visibility: VisibilitySchema,
  summary: z.string().nullable(),
  description: z.string().nullable(),
  image: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RepositoryView = z.infer<typeof RepositoryViewSchema>;

export const TagViewSchema = z.object({
  tag: z.string(),
  digest: z.string(),
  mediaType: z.string().nullable(),
  /**
   * `os/arch[/variant]` of each image the tag holds (several for an image index), as the registry
   * gave them when the tag was pushed; null when they could not be read.
   */
  platforms: z
    .array(z.string())
    .nullable()
    .describe("os/arch[/variant] of each image under the tag, e.g. linux/amd64, linux/arm64; null when unknown"),
  size: z.number().nullable(),
  pushedBy: z.string().nullable(),
  pushedAt: z.string(),
});
export type TagView = z.infer<typeof TagViewSchema>;

/** The docker commands a repository page shows. */
export const DockerCommandsSchema = z.object({
  login: z.string(),
  pull: z.string(),
  tag: z.string(),
  push: z.string(),
});
export type DockerCommands = z.infer<typeof DockerCommandsSchema>;
