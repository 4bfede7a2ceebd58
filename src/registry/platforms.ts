/** Image indexes (several platforms under one digest): OCI's and Docker's manifest list. */
export const INDEX_MEDIA_TYPES: readonly string[] = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
/** Single-platform image manifests, whose config blob names the platform. */
export const IMAGE_MEDIA_TYPES: readonly string[] = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

/**
 * `os/arch[/variant]` of an index entry's `platform` or an image config, as `docker --platform`
 * writes it: arm64's default variant (v8) is left out, like containerd's normalisation, so an image
 * built for `linux/arm64` reads `linux/arm64`. Undefined when os or architecture is missing, and
 * for BuildKit's attestation entries (`unknown/unknown`). Pure.
 */
export function platformString(p: unknown): string | undefined {
  const { os, architecture, variant } = (p ?? {}) as Record<string, unknown>;
  if (typeof os !== "string" || typeof architecture !== "string" || !os || !architecture) return undefined;
  if (os === "unknown" && architecture === "unknown") return undefined;
  const keepVariant = typeof variant === "string" && variant && !(architecture === "arm64" && /^v?8$/.test(variant));
  return keepVariant ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`;
}

/** The platforms an image index lists, each once, sorted; attestation entries are skipped. Pure. */
export function platformsOfIndex(index: unknown): string[] {
  const manifests = (index as { manifests?: unknown })?.manifests;
  if (!Array.isArray(manifests)) return [];
  const found = new Set<string>();
  for (const m of manifests) {
    const p = platformString((m as { platform?: unknown })?.platform);
    if (p) found.add(p);
  }
  return [...found].sort();
}

/** The media type of a manifest: its own `mediaType` field, else the registry's Content-Type. Pure. */
export function manifestMediaType(manifest: unknown, contentType: string | null): string | undefined {
  const own = (manifest as { mediaType?: unknown })?.mediaType;
  if (typeof own === "string" && own) return own;
  return contentType?.split(";")[0]?.trim() || undefined;
}
