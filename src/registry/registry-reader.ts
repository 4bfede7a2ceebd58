import type { Region } from "../config.ts";
import { signAccessToken } from "./access-token.ts";
import type { SigningKeys } from "./keys.ts";
import {
  IMAGE_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  manifestMediaType,
  platformString,
  platformsOfIndex,
} from "./platforms.ts";

const LOOPBACK = /^(127\.|localhost(:|$)|\[::1\])/;
/** Manifests and image configs are small; a larger answer is not read. */
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** Docker's rule: a registry on the loopback interface speaks plain HTTP, any other HTTPS. */
export function registryBaseUrl(host: string): string {
  return `${LOOPBACK.test(host) ? "http" : "https"}://${host}`;
}

/**
 * Reads a region's registry as Kiln itself: a pull token for one repository that Kiln signs with
 * its own key (subject `kiln`), so no user's policies are involved. Every read gives up at `signal`.
 */
export class RegistryReader {
  constructor(private readonly keys: SigningKeys) {}

  private async get(region: Region, repository: string, path: string, accept: string, signal: AbortSignal) {
    const { token } = signAccessToken(this.keys, {
      subject: "kiln",
      service: region.id,
      access: [{ type: "repository", name: repository, actions: ["pull"] }],
    });
    const res = await fetch(`${registryBaseUrl(region.registry)}/v2/${repository}/${path}`, {
      headers: { authorization: `Bearer ${token}`, accept },
      signal,
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`the registry ${region.registry} answered ${res.status} for ${repository}/${path}`);
    }
    if (Number(res.headers.get("content-length") ?? 0) > MAX_DOCUMENT_BYTES) {
      await res.body?.cancel();
      throw new Error(`${repository}/${path} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    const text = await res.text();
    return { body: JSON.parse(text) as unknown, contentType: res.headers.get("content-type") };
  }

  /**
   * The platforms (`os/arch[/variant]`) of the manifest `digest` of `repository`: those an image
   * index lists, or the one its image config names. Throws when the registry cannot be read or
   * the manifest is of another kind.
   */
  async platformsOf(region: Region, repository: string, digest: string, signal: AbortSignal): Promise<string[]> {
    const accept = [...INDEX_MEDIA_TYPES, ...IMAGE_MEDIA_TYPES].join(", ");
    const { body, contentType } = await this.get(region, repository, `manifests/${digest}`, accept, signal);
    const mediaType = manifestMediaType(body, contentType);
    if (mediaType && INDEX_MEDIA_TYPES.includes(mediaType)) return platformsOfIndex(body);
    if (!mediaType || !IMAGE_MEDIA_TYPES.includes(mediaType))
      throw new Error(`manifest ${digest} of ${repository} is ${mediaType ?? "of no known media type"}`);
    const config = (body as { config?: { digest?: unknown } }).config?.digest;
    if (typeof config !== "string") throw new Error(`manifest ${digest} of ${repository} names no config blob`);
    const blob = await this.get(region, repository, `blobs/${config}`, "*/*", signal);
    const platform = platformString(blob.body);
    if (!platform) throw new Error(`the config of ${repository}@${digest} names no os and architecture`);
    return [platform];
  }
}
