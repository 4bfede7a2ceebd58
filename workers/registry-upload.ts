import type Docker from "dockerode";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { DeterministicError } from "./errors.ts";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

/** A multi-platform push can outlast one token (several images, then every tag's index, each after a lock). */
const TOKEN_REUSE_MS = 60_000;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

/**
 * One repository of a registry, spoken to with a bearer token: just what pushing an image by
 * digest and an index by tag needs (distribution's blob upload and manifest put).
 */
export class RegistryRepository {
  private token: { value: string | undefined; at: number } | undefined;

  /** `tokenOf` asks for a fresh token; one is used for a minute (registry tokens live five). */
  constructor(
    private readonly baseUrl: string,
    private readonly repository: string,
    private readonly tokenOf: () => Promise<string | undefined>,
  ) {}

  private async bearer(): Promise<string | undefined> {
    if (!this.token || Date.now() - this.token.at > TOKEN_REUSE_MS)
      this.token = { value: await this.tokenOf(), at: Date.now() };
    return this.token.value;
  }

  private url(path: string): string {
    return `${this.baseUrl}/v2/${this.repository}/${path}`;
  }

  private async call(what: string, url: string, init: RequestInit & { duplex?: "half" } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = await this.bearer();
    if (token) headers.set("authorization", `Bearer ${token}`);
    const answer = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(600_000) }).catch((err: Error) => {
      throw new Error(
        `${what}: the registry does not answer (${(err.cause as { code?: string })?.code ?? err.message})`,
      );
    });
    if (answer.status === 401 || answer.status === 403)
      throw new DeterministicError(`${what} denied: the registry answered ${answer.status} ${await answer.text()}`);
    return answer;
  }

  /** The blob's size when the repository holds it. */
  async blobSize(digest: string): Promise<number | undefined> {
    const answer = await this.call(`checking blob ${digest}`, this.url(`blobs/${digest}`), { method: "HEAD" });
    if (answer.status === 404) return undefined;
    if (!answer.ok) throw new Error(`checking blob ${digest}: the registry answered ${answer.status}`);
    return Number(answer.headers.get("content-length"));
  }

  /** Uploads one blob in a single PUT; the registry checks the digest. */
  async putBlob(digest: string, body: () => Buffer | Readable): Promise<void> {
    const what = `uploading blob ${digest}`;
    const started = await this.call(what, this.url("blobs/uploads/"), { method: "POST" });
    if (started.status !== 202) throw new Error(`${what}: the registry answered ${started.status}`);
    const location = new URL(started.headers.get("location")!, this.baseUrl);
    location.searchParams.set("digest", digest);
    const data = body();
    const done = await this.call(what, location.href, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: data instanceof Readable ? (Readable.toWeb(data) as ReadableStream) : data,
      duplex: "half",
    });
    if (done.status !== 201) throw new Error(`${what}: the registry answered ${done.status} ${await done.text()}`);
  }

  /** Puts a manifest under `tag`, or under its own digest only (no tag); returns its descriptor. */
  async putManifest(mediaType: string, content: object, tag?: string): Promise<Descriptor> {
    const bytes = Buffer.from(JSON.stringify(content));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const reference = tag ?? digest;
    const what = `putting the manifest ${reference}`;
    const answer = await this.call(what, this.url(`manifests/${reference}`), {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: bytes,
    });
    if (answer.status !== 201)
      throw new Error(`${what}: the registry answered ${answer.status} ${await answer.text()}`);
    return { mediaType, digest, size: bytes.length };
  }
}

interface ImageInfo {
  Id: string;
  Os: string;
  Architecture: string;
  Variant?: string;
  RootFS: { Layers?: string[] };
}

/** A blob in the registry: a layer as Kiln compressed it. */
export interface Blob {
  digest: string;
  size: number;
}

/**
 * Which compressed blob holds a layer (by its diff id, the digest of the uncompressed tar), as an
 * earlier push found: gzip of the same bytes gives the same blob, so a layer the registry holds
 * is recognised without reading or compressing it again. Shared by workers (Redis).
 */
export interface LayerBlobs {
  get(diffId: string): Promise<Blob | undefined>;
  set(diffId: string, blob: Blob): Promise<void>;
}

/**
 * Pushes one image of the engine to the registry by digest, leaving no tag: its layers (gzip) and
 * config as blobs, only those the repository lacks, then an OCI manifest put under its own digest.
 * This is how each platform of a multi-platform build goes out before the index names them all.
 */
export async function pushImageByDigest(
  docker: Docker,
  imageId: string,
  registry: RegistryRepository,
  known: LayerBlobs,
  scratchDir: string,
  onLine: (line: string) => void,
): Promise<Descriptor> {
  const info = (await docker.getImage(imageId).inspect()) as unknown as ImageInfo;
  const platform: Platform = {
    os: info.Os,
    architecture: info.Architecture,
    ...(info.Variant ? { variant: info.Variant } : {}),
  };
  const diffIds = info.RootFS.Layers ?? [];
  const layers = new Map<string, Blob>();
  for (const diffId of new Set(diffIds)) {
    const blob = await known.get(diffId);
    if (blob && (await registry.blobSize(blob.digest)) === blob.size) layers.set(diffId, blob);
  }
  let configSize = await registry.blobSize(info.Id);
  if (configSize === undefined || diffIds.some((d) => !layers.has(d)))
    configSize = await uploadFromSave(docker, info.Id, layers, known, registry, scratchDir, onLine);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: info.Id, size: configSize },
    layers: diffIds.map((diffId) => ({ mediaType: OCI_LAYER, ...layers.get(diffId)! })),
  };
  const put = await registry.putManifest(OCI_MANIFEST, manifest);
  onLine(`${platformName(platform)}: pushed ${put.digest}`);
  return { ...put, platform };
}

/** Puts an OCI image index of the pushed platform images under `tag`. */
export function putIndex(registry: RegistryRepository, tag: string, images: Descriptor[]): Promise<Descriptor> {
  return registry.putManifest(OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: images }, tag);
}

export function platformName(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/**
 * Reads `docker save` of the image: uploads its config unless the registry holds it, and gzips
 * every layer not in `layers` (on its way to a scratch file, hashing both forms: the save's
 * entries are not in layer order, so a layer is known by its diff id only once read), then
 * uploads the blob unless the registry holds it. Returns the config's size.
 */
async function uploadFromSave(
  docker: Docker,
  imageId: string,
  layers: Map<string, Blob>,
  known: LayerBlobs,
  registry: RegistryRepository,
  scratchDir: string,
  onLine: (line: string) => void,
): Promise<number> {
  const extract = tar.extract();
  let n = 0;
  let configSize: number | undefined;
  extract.on("entry", (header, stream, next) => {
    const handle = async () => {
      if (header.type === "file" && `sha256:${header.name}` === `${imageId}.json`) {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        const config = Buffer.concat(chunks);
        if ((await registry.blobSize(imageId)) === undefined) await registry.putBlob(imageId, () => config);
        configSize = config.length;
      } else if (header.type === "file" && header.name.endsWith("/layer.tar")) {
        const file = join(scratchDir, `layer-${n++}.tar.gz`);
        const tarHash = createHash("sha256");
        const gzHash = createHash("sha256");
        let gzSize = 0;
        try {
          stream.on("data", (chunk: Buffer) => tarHash.update(chunk));
          const gzip = createGzip();
          gzip.on("data", (chunk: Buffer) => {
            gzHash.update(chunk);
            gzSize += chunk.length;
          });
          await pipeline(stream, gzip, createWriteStream(file));
          const diffId = `sha256:${tarHash.digest("hex")}`;
          const blob = { digest: `sha256:${gzHash.digest("hex")}`, size: gzSize };
          if (!layers.has(diffId)) {
            if ((await registry.blobSize(blob.digest)) !== blob.size) {
              onLine(`uploading layer ${diffId.slice(0, 19)}… (${header.size} bytes, ${gzSize} compressed)`);
              await registry.putBlob(blob.digest, () => createReadStream(file));
            }
            layers.set(diffId, blob);
            await known.set(diffId, blob);
          }
        } finally {
          rmSync(file, { force: true });
        }
      } else {
        stream.resume();
        await new Promise((resolve) => stream.on("end", resolve));
      }
    };
    handle().then(
      () => next(),
      (err: Error) => extract.destroy(err),
    );
  });
  const saved = (await docker.getImage(imageId).get()) as unknown as NodeJS.ReadableStream;
  await pipeline(saved, extract);
  if (configSize === undefined) throw new Error(`the engine's export of ${imageId} lacks its config`);
  return configSize;
}
