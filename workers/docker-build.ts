import type Docker from "dockerode";
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { sep } from "node:path";
import { packContext } from "./build-context.ts";
import { BuildProgress } from "./buildkit/progress.ts";
import { decodeStatus } from "./buildkit/proto.ts";
import { openSession, type RegistryLogin } from "./buildkit/session.ts";
import { chooseFrontend } from "./dockerfile-syntax.ts";
import { BaseImageError, DeterministicError, DiskFullError } from "./errors.ts";

interface DockerEvent {
  id?: string;
  aux?: string | { ID?: string; Tag?: string; Digest?: string; Size?: number };
  stream?: string;
  status?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** An `error` event in a Docker stream; whether retrying can help depends on the stream. */
class StreamError extends Error {}

/** Follows a Docker JSON stream to its end; an `error` event in it rejects with Docker's message. */
function follow(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent: (event: DockerEvent) => void,
): Promise<DockerEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: DockerEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error);
        if (failed) return reject(new StreamError(failed.errorDetail?.message ?? failed.error));
        resolve(events);
      },
      onEvent,
    );
  });
}

export interface BuildSpec {
  contextDir: string;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  buildArgs: Record<string, string>;
  target: string | null;
  noCache: boolean;
  labels: Record<string, string>;
  /** BuildKit's cache-mount namespace: a cache mount of another namespace is never seen. */
  cacheNamespace: string;
  /** The registry whose images BuildKit pulls with the build credential; others are pulled anonymously. */
  registry: { host: string; login: RegistryLogin };
  /** `os/arch[/variant]` to build for; absent builds the engine's own platform. */
  platform?: string;
  /** Build secrets by id, handed to BuildKit through the session, never as build args. */
  secrets: Record<string, string>;
  /** Export the inline cache with the image, and import the inline caches of the images in `from`. */
  registryCache: { from: string[] } | null;
}

const NO_SPACE = /no space left on device|ENOSPC/i;
/** What running a binary of another architecture says when binfmt_misc has no emulator for it. */
const NO_EMULATOR = /exec format error/i;
/** A step that resolves or pulls a base image, and the image it names. */
const BASE_IMAGE_STEP = /^(?:\[internal\] load metadata for |\[[^\]]*\] FROM )(\S+)/;
const ACCESS_REFUSED = /401|403|unauthorized|denied|forbidden|insufficient_scope|authorization/i;
const NOT_FOUND = /not found|404|manifest unknown|name unknown/i;

/** The Dockerfile's text, read only if it lies inside the context (a symlink may point anywhere). */
function dockerfilePath(contextDir: string, dockerfile: string): string {
  let real: string;
  try {
    real = realpathSync(`${contextDir}/${dockerfile}`);
  } catch {
    throw new DeterministicError(`the Dockerfile ${dockerfile} is not in the build context`);
  }
  if (!real.startsWith(realpathSync(contextDir) + sep))
    throw new DeterministicError(`the Dockerfile ${dockerfile} points outside the build context`);
  return real;
}

/**
 * Reads the Dockerfile (only inside the context) and settles its `# syntax=` line: returns the text
 * BuildKit will build, after writing it back if it changed.
 */
export function prepareDockerfile(contextDir: string, dockerfile: string, onLine: (line: string) => void): string {
  const path = dockerfilePath(contextDir, dockerfile);
  const original = readFileSync(path, "utf8");
  const frontend = chooseFrontend(original);
  if (frontend.note) onLine(frontend.note);
  if (frontend.text !== original) writeFileSync(path, frontend.text);
  return frontend.text;
}

/** What the failure of a build means for retrying, and what the user reads. */
function buildFailure(progress: BuildProgress, streamMessage: string, platform?: string): Error {
  const failure = progress.failure;
  const message = failure ? `${failure.step}: ${failure.error}` : streamMessage;
  if (platform && [message, ...(failure?.output ?? [])].some((text) => NO_EMULATOR.test(text)))
    return new DeterministicError(
      `platform ${platform} cannot be built here: the engine's host has no emulator for it (install qemu-user-static and binfmt-support there): ${message}`,
    );
  if (NO_SPACE.test(message)) return new DiskFullError(`the worker's disk is full: ${message}`);
  const base = failure ? BASE_IMAGE_STEP.exec(failure.step)?.[1] : undefined;
  if (base && ACCESS_REFUSED.test(failure!.error)) return new BaseImageError(base, message);
  // A registry that is down or answers 5xx when a base image is resolved may come back.
  if (base && !NOT_FOUND.test(failure!.error)) return new Error(message);
  return new DeterministicError(message);
}

/**
 * Builds the context directory on the engine's BuildKit (`version: "2"`, with a session Kiln
 * answers) and returns the image id; BuildKit's status stream becomes readable lines as it comes.
 */
export async function buildImage(
  docker: Docker,
  spec: BuildSpec,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const session = await openSession(docker, {
    loginFor: (host) => (host === spec.registry.host ? spec.registry.login : undefined),
    secrets: spec.secrets,
  });
  const cacheFrom = spec.registryCache?.from ?? [];
  if (cacheFrom.length) onLine(`importing the registry cache of ${cacheFrom.join(", ")}`);
  const progress = new BuildProgress(onLine);
  let imageId: string | undefined;
  try {
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
      docker.modem.dial(
        {
          path: "/build?",
          method: "POST",
          file: packContext(spec.contextDir, spec.dockerfile),
          abortSignal: signal,
          isStream: true,
          statusCodes: { 200: true, 400: "bad parameter", 500: "server error" },
          options: {
            version: "2",
            session: session.id,
            dockerfile: spec.dockerfile,
            // Set last: a rule's build args cannot move a build into another namespace's cache.
            buildargs: JSON.stringify({
              ...spec.buildArgs,
              ...(spec.registryCache ? { BUILDKIT_INLINE_CACHE: "1" } : {}),
              BUILDKIT_CACHE_MOUNT_NS: spec.cacheNamespace,
            }),
            labels: JSON.stringify(spec.labels),
            nocache: spec.noCache,
            ...(spec.target ? { target: spec.target } : {}),
            ...(spec.platform ? { platform: spec.platform } : {}),
            ...(cacheFrom.length ? { cachefrom: JSON.stringify(cacheFrom) } : {}),
          },
        },
        (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result as NodeJS.ReadableStream)),
      );
    });
    await follow(docker, stream, (event) => {
      if (event.id === "moby.buildkit.trace" && typeof event.aux === "string") progress.update(decodeStatus(event.aux));
      else if (event.id === "moby.image.id" && typeof event.aux === "object") imageId = event.aux.ID;
      else if (event.stream?.trim()) onLine(event.stream.trimEnd());
    });
  } catch (err) {
    progress.end();
    if (signal?.aborted) throw err;
    throw err instanceof StreamError
      ? buildFailure(progress, err.message, spec.platform)
      : NO_SPACE.test((err as Error).message)
        ? new DiskFullError(`the worker's disk is full: ${(err as Error).message}`)
        : err;
  } finally {
    session.close();
  }
  progress.end();
  if (!imageId) throw new Error("the engine finished the build without naming an image");
  return imageId;
}

/** Gives the built image its names (`registry/ns/repo:tag`). */
export async function tagImage(docker: Docker, imageId: string, names: string[]): Promise<void> {
  for (const name of names) {
    const [repo, tag] = splitName(name);
    await docker.getImage(imageId).tag({ repo, tag });
  }
}

/**
 * Takes the names off the engine once they are pushed, so a long-running worker does not fill its
 * disk with images; a name that meanwhile points at another build's image is left alone. The
 * layers stay in BuildKit's cache, which `pruneBuildCache` bounds.
 */
export async function untagImage(docker: Docker, imageId: string, names: string[]): Promise<void> {
  for (const name of names) {
    const current = await docker
      .getImage(name)
      .inspect()
      .catch(() => undefined);
    if (current?.Id === imageId)
      await docker
        .getImage(name)
        .remove({ noprune: true })
        .catch(() => {});
  }
}

/** Removes a built image by id; one that a name still holds (another build's push) stays. */
export async function removeImage(docker: Docker, imageId: string): Promise<void> {
  await docker
    .getImage(imageId)
    .remove({ noprune: true })
    .catch(() => {});
}

/** Trims BuildKit's cache to `keepBytes`, least recently used records first. */
export async function pruneBuildCache(docker: Docker, keepBytes: number): Promise<number> {
  // dockerode's pruneBuilder drops its options, which would empty the whole cache: dial it ourselves.
  const answer = await new Promise<{ SpaceReclaimed?: number }>((resolve, reject) => {
    docker.modem.dial(
      {
        path: "/build/prune?",
        method: "POST",
        options: { "keep-storage": keepBytes },
        statusCodes: { 200: true, 500: "server error" },
      },
      (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result as { SpaceReclaimed?: number })),
    );
  });
  return answer?.SpaceReclaimed ?? 0;
}

/** Pushes one name with the build credential; returns the manifest digest and size the registry reported. */
export async function pushImage(
  docker: Docker,
  name: string,
  auth: { username: string; password: string; serveraddress: string },
  onLine: (line: string) => void,
): Promise<{ digest?: string; size?: number }> {
  const [repo, tag] = splitName(name);
  const stream = await docker.getImage(name).push({ tag, authconfig: auth });
  let events: DockerEvent[];
  try {
    events = await follow(docker, stream, (event) => {
      if (event.status && !event.progress) onLine(event.id ? `${event.id}: ${event.status}` : event.status);
    });
  } catch (err) {
    // The registry's refusal names no secret; it is the push user's policy speaking. Anything
    // else (a registry that is down or answers 5xx) may pass: BullMQ retries with backoff.
    const message = (err as Error).message;
    if (/denied|unauthorized|authentication required|insufficient_scope/i.test(message))
      throw new DeterministicError(`push of ${repo}:${tag} denied: ${message}`);
    if (NO_SPACE.test(message)) throw new DiskFullError(`the worker's disk is full: ${message}`);
    throw new Error(`push of ${repo}:${tag} failed: ${message}`);
  }
  const aux = events
    .map((e) => e.aux)
    .find((a): a is { Digest: string; Size?: number } => typeof a === "object" && !!a.Digest);
  return { digest: aux?.Digest, size: aux?.Size };
}

function splitName(name: string): [string, string] {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? [name.slice(0, colon), name.slice(colon + 1)] : [name, "latest"];
}
