import type { RegistryLogin } from "./buildkit/session.ts";
import { type BaseImageError, DeterministicError } from "./errors.ts";

const LOOPBACK = /^(127\.|localhost(:|$)|\[::1\])/;

/** Docker's rule: a registry on the loopback interface speaks plain HTTP, any other HTTPS. */
export function registryUrl(host: string): string {
  return `${LOOPBACK.test(host) ? "http" : "https"}://${host}`;
}

function bearerChallenge(header: string | null): { realm: string; service?: string } | undefined {
  if (!header || !/^Bearer\s/i.test(header)) return undefined;
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  return params.realm ? { realm: params.realm, service: params.service } : undefined;
}

interface TokenAnswer {
  token?: string;
  denied?: { scope: string; reason: string }[];
}

/** Asks the registry's token server (Kiln) for `scope` with the build credential. */
async function askToken(host: string, scope: string, login: RegistryLogin): Promise<TokenAnswer | undefined> {
  const probe = await fetch(`${registryUrl(host)}/v2/`, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
    throw new Error(`the registry ${host} does not answer (${(err.cause as { code?: string })?.code ?? err.message})`);
  });
  const challenge = bearerChallenge(probe.headers.get("www-authenticate"));
  if (!challenge) return undefined;
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.set("service", challenge.service);
  url.searchParams.set("scope", scope);
  const answer = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(`${login.username}:${login.password}`).toString("base64")}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!answer.ok) throw new Error(`the token server answered ${answer.status}`);
  return (await answer.json()) as TokenAnswer;
}

/**
 * Why the build credential may not pull `repository` from a Kiln registry, in the words of Kiln's
 * token server (which names the push user, the resource and the policy decision); undefined when
 * it may. Throws when the registry or Kiln cannot be asked.
 */
export async function pullDenial(host: string, repository: string, login: RegistryLogin): Promise<string | undefined> {
  const scope = `repository:${repository}:pull`;
  return (await askToken(host, scope, login))?.denied?.find((d) => d.scope === scope)?.reason;
}

/** A token for pushing to (and so pulling from) the build's own repository; none when the registry asks for none. */
export async function repositoryToken(
  host: string,
  repository: string,
  login: RegistryLogin,
): Promise<string | undefined> {
  return (await askToken(host, `repository:${repository}:pull,push`, login))?.token;
}

const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

interface ManifestOrIndex {
  config?: { digest?: string };
  manifests?: { digest: string }[];
}

/** An image's config as the registry holds it: the labels, and BuildKit's inline cache (base64 JSON). */
interface ImageConfig {
  config?: { Labels?: Record<string, string> };
  "moby.buildkit.cache.v0"?: string;
}

/**
 * The config of the image `reference` (a tag or a digest) names in the build's own repository,
 * with its manifest digest; for an image index, the config of its first image. Undefined when it
 * is not there or not readable with the build credential.
 */
async function imageConfigOf(
  host: string,
  repository: string,
  reference: string,
  login: RegistryLogin,
): Promise<{ digest: string | undefined; config: ImageConfig } | undefined> {
  // The build's own repository: its push right brings pull, which the push user may not hold alone.
  const token = await repositoryToken(host, repository, login);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const base = `${registryUrl(host)}/v2/${repository}`;
  const read = async (path: string, what: string, accept?: string): Promise<Response | undefined> => {
    const answer = await fetch(`${base}/${path}`, {
      headers: { ...headers, ...(accept ? { accept } : {}) },
      signal: AbortSignal.timeout(10_000),
    });
    // Not there, or not readable with this credential (its push right was revoked): the push decides.
    if (answer.status === 404 || answer.status === 401 || answer.status === 403) return undefined;
    if (!answer.ok) throw new Error(`the registry answered ${answer.status} for ${what}`);
    return answer;
  };
  const manifest = await read(`manifests/${reference}`, `${repository}:${reference}`, MANIFEST_TYPES);
  if (!manifest) return undefined;
  const digest = manifest.headers.get("docker-content-digest") ?? undefined;
  let body = (await manifest.json()) as ManifestOrIndex;
  // An image index (a multi-platform build): its platform images come from the same build.
  const first = body.manifests?.[0]?.digest;
  if (first) {
    const image = await read(`manifests/${first}`, `${repository}@${first}`, MANIFEST_TYPES);
    if (!image) return undefined;
    body = (await image.json()) as ManifestOrIndex;
  }
  const configDigest = body.config?.digest;
  if (!configDigest) return undefined;
  const blob = await read(`blobs/${configDigest}`, `the config of ${repository}:${reference}`);
  if (!blob) return undefined;
  return { digest, config: (await blob.json()) as ImageConfig };
}

/**
 * The manifest digest `repository:tag` holds in the registry when its image was built by
 * `buildId` (its `kiln.build.id` label): an earlier attempt of the same build pushed it, even
 * if that attempt's worker died while the engine finished its push. Undefined otherwise.
 */
export async function digestPushedBy(
  host: string,
  repository: string,
  tag: string,
  buildId: string,
  login: RegistryLogin,
): Promise<string | undefined> {
  const image = await imageConfigOf(host, repository, tag, login);
  return image?.config.config?.Labels?.["kiln.build.id"] === buildId ? image.digest : undefined;
}

/** One record of BuildKit's inline cache: a step, and the image layers it made. */
interface InlineCacheRecord {
  layers?: unknown[];
}

/**
 * How many of an image's layers its inline cache gives back: the layers its records name. BuildKit
 * 0.8 writes a step it took from an imported cache without its layer (that step can then seed no
 * other build), so of two images of one Dockerfile the one built from scratch gives back more.
 * Undefined when there is no inline cache to read.
 */
export function inlineCacheLayers(config: ImageConfig): number | undefined {
  const encoded = config["moby.buildkit.cache.v0"];
  if (!encoded) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  const records = (Array.isArray(parsed) ? parsed : (parsed as { records?: unknown })?.records) as
    InlineCacheRecord[] | undefined;
  if (!Array.isArray(records) || records.length === 0) return undefined;
  const layers = new Set(records.flatMap((r) => (r.layers ?? []).map((l) => (l as { layer?: number }).layer)));
  layers.delete(undefined);
  return layers.size;
}

/** How many layers the pushed image's inline cache gives back (see inlineCacheLayers); undefined when unknown. */
export async function pushedCacheLayers(
  host: string,
  repository: string,
  digest: string,
  login: RegistryLogin,
): Promise<number | undefined> {
  const image = await imageConfigOf(host, repository, digest, login).catch(() => undefined);
  return image ? inlineCacheLayers(image.config) : undefined;
}

/**
 * A base image that the registry refused to the build credential: the build fails at once,
 * naming the image and, for a Kiln registry, the policy decision behind the refusal.
 */
export async function explainRefusedBase(
  err: BaseImageError,
  registry: string,
  login: RegistryLogin,
): Promise<DeterministicError> {
  const ref = err.image.replace(/^docker\.io\//, "");
  if (!ref.startsWith(`${registry}/`))
    return new DeterministicError(
      `base image ${ref} was refused by its registry (Kiln pulls it anonymously): ${err.message}`,
    );
  const why = await pullDenial(registry, repositoryOf(ref, registry), login).catch(() => undefined);
  return new DeterministicError(`base image ${ref} may not be pulled by this build: ${why ?? err.message}`);
}

/**
 * Asks Kiln, before the build, whether the build credential may pull every image of the build's
 * registry that the Dockerfile names: BuildKit takes an image already on the engine without
 * asking the registry, so the policy is asked here instead. The first refused image fails the build.
 */
export async function admitImages(images: string[], registry: string, login: RegistryLogin): Promise<void> {
  for (const image of images) {
    if (!image.startsWith(`${registry}/`)) continue;
    // Not knowing is no answer: the build waits for Kiln (a transient failure, retried).
    const why = await pullDenial(registry, repositoryOf(image, registry), login).catch((err: Error) => {
      throw new Error(`could not ask ${registry} whether this build may pull ${image}: ${err.message}`);
    });
    if (why) throw new DeterministicError(`base image ${image} may not be pulled by this build: ${why}`);
  }
}

function repositoryOf(image: string, registry: string): string {
  return image
    .slice(registry.length + 1)
    .replace(/@.*$/, "")
    .replace(/:[^/]*$/, "");
}
