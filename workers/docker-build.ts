import type Docker from "dockerode";
import { readdirSync } from "node:fs";

import { DeterministicError } from "./errors.ts";

interface DockerEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
}

/** An `error` event in a Docker stream; whether retrying can help depends on the stream. */
class StreamError extends Error {}

/** Follows a Docker JSON stream, sending readable lines on; an `error` in the stream rejects with Docker's message. */
function follow(docker: Docker, stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<DockerEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: DockerEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error);
        if (failed) return reject(new StreamError(failed.errorDetail?.message ?? failed.error));
        resolve(events);
      },
      (event: DockerEvent) => {
        if (event.stream) for (const line of event.stream.split("\n")) if (line.trim()) onLine(line.replace(/\s+$/, ""));
        if (event.status && !event.progress) onLine(event.id ? `${event.id}: ${event.status}` : event.status);
        if (event.error) onLine(`error: ${event.errorDetail?.message ?? event.error}`);
      },
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
  /** Full image names (`registry/ns/repo:tag`). */
  names: string[];
}

/** Builds the context directory (dockerode packs it as a stream, honouring .dockerignore) and tags every name. */
export async function buildImage(docker: Docker, spec: BuildSpec, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const [first, ...others] = spec.names;
  const stream = await docker.buildImage(
    { context: spec.contextDir, src: readdirSync(spec.contextDir) },
    { t: first, dockerfile: spec.dockerfile, buildargs: spec.buildArgs, labels: spec.labels, nocache: spec.noCache, rm: true, forcerm: true, ...(spec.target ? { target: spec.target } : {}), abortSignal: signal } as Docker.ImageBuildOptions,
  );
  // A failing Dockerfile fails the same way next time.
  await follow(docker, stream, onLine).catch((err: Error) => {
    throw err instanceof StreamError ? new DeterministicError(err.message) : err;
  });
  for (const name of others) {
    const [repo, tag] = splitName(name);
    await docker.getImage(first!).tag({ repo, tag });
  }
}

/** Pushes one name with the build credential; returns the manifest digest and size the registry reported. */
export async function pushImage(docker: Docker, name: string, auth: { username: string; password: string; serveraddress: string }, onLine: (line: string) => void): Promise<{ digest?: string; size?: number }> {
  const [repo, tag] = splitName(name);
  const stream = await docker.getImage(name).push({ tag, authconfig: auth });
  let events: DockerEvent[];
  try {
    events = await follow(docker, stream, onLine);
  } catch (err) {
    // The registry's refusal names no secret; it is the push user's policy speaking. Anything
    // else (a registry that is down or answers 5xx) may pass: BullMQ retries with backoff.
    const message = (err as Error).message;
    if (/denied|unauthorized|authentication required|insufficient_scope/i.test(message)) throw new DeterministicError(`push of ${repo}:${tag} denied: ${message}`);
    throw new Error(`push of ${repo}:${tag} failed: ${message}`);
  }
  const aux = events.find((e) => e.aux?.Digest)?.aux;
  return { digest: aux?.Digest, size: aux?.Size };
}

function splitName(name: string): [string, string] {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? [name.slice(0, colon), name.slice(colon + 1)] : [name, "latest"];
}
