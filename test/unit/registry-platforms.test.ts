import { describe, expect, it } from "vitest";
import { manifestMediaType, platformString, platformsOfIndex } from "../../src/registry/platforms.ts";
import type { RegistryEvent } from "../../src/registry/notifications.ts";
import { addPlatforms } from "../../src/registry/tag-platforms.ts";

describe("platform strings", () => {
  it("os/arch, with the variant when there is one", () => {
    expect(platformString({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
    expect(platformString({ os: "linux", architecture: "arm", variant: "v7" })).toBe("linux/arm/v7");
    expect(platformString({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" })).toBe(
      "windows/amd64",
    );
  });

  it("arm64's default variant v8 is left out, as docker --platform linux/arm64 writes it", () => {
    expect(platformString({ os: "linux", architecture: "arm64", variant: "v8" })).toBe("linux/arm64");
    expect(platformString({ os: "linux", architecture: "arm64", variant: "8" })).toBe("linux/arm64");
    expect(platformString({ os: "linux", architecture: "arm64" })).toBe("linux/arm64");
  });

  it("nothing for attestation entries, a missing os or architecture, or no object at all", () => {
    expect(platformString({ os: "unknown", architecture: "unknown" })).toBeUndefined();
    expect(platformString({ architecture: "amd64" })).toBeUndefined();
    expect(platformString({ os: "linux", architecture: "" })).toBeUndefined();
    expect(platformString(undefined)).toBeUndefined();
    expect(platformString("linux/amd64")).toBeUndefined();
  });

  it("an index lists each platform once, sorted, without attestations or entries with no platform", () => {
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { digest: "sha256:a", platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        { digest: "sha256:b", platform: { os: "linux", architecture: "amd64" } },
        { digest: "sha256:c", platform: { os: "unknown", architecture: "unknown" } },
        { digest: "sha256:d" },
        { digest: "sha256:e", platform: { os: "linux", architecture: "amd64" } },
      ],
    };
    expect(platformsOfIndex(index)).toEqual(["linux/amd64", "linux/arm64"]);
    expect(platformsOfIndex({})).toEqual([]);
    expect(platformsOfIndex(null)).toEqual([]);
  });

  it("a manifest's media type: its own field, else the Content-Type without parameters", () => {
    expect(manifestMediaType({ mediaType: "application/vnd.oci.image.index.v1+json" }, "text/plain")).toBe(
      "application/vnd.oci.image.index.v1+json",
    );
    expect(manifestMediaType({}, "application/vnd.oci.image.manifest.v1+json; charset=utf-8")).toBe(
      "application/vnd.oci.image.manifest.v1+json",
    );
    expect(manifestMediaType({}, null)).toBeUndefined();
  });
});

describe("addPlatforms", () => {
  const region = { id: "local", registry: "127.0.0.1:5000" };
  const event = (id: string, tag?: string, digest = "sha256:1"): RegistryEvent => ({
    id,
    action: "push",
    repository: "ns/app",
    tag,
    digest,
    occurredAt: new Date().toISOString(),
  });

  it("reads tagged pushes only, each manifest once", async () => {
    const asked: string[] = [];
    const reader = {
      platformsOf: async (_r: unknown, repository: string, digest: string) => {
        asked.push(`${repository}@${digest}`);
        return ["linux/amd64", "linux/arm64"];
      },
    };
    const events = [event("a", "1.0"), event("b", "latest"), event("c", undefined, "sha256:2")];
    await addPlatforms(events, region, reader);
    expect(asked).toEqual(["ns/app@sha256:1"]);
    expect(events.map((e) => e.platforms)).toEqual([
      ["linux/amd64", "linux/arm64"],
      ["linux/amd64", "linux/arm64"],
      undefined,
    ]);
  });

  it("a registry that fails or does not answer in time leaves platforms unset, and never throws", async () => {
    const failing = { platformsOf: async () => Promise.reject(new Error("503")) };
    const failed = [event("a", "1.0")];
    await addPlatforms(failed, region, failing);
    expect(failed[0]!.platforms).toBeUndefined();

    const hanging = {
      platformsOf: (_r: unknown, _repo: string, _d: string, signal: AbortSignal) =>
        new Promise<string[]>((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    };
    const slow = [event("b", "1.0")];
    const started = Date.now();
    await addPlatforms(slow, region, hanging, undefined, 100);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(slow[0]!.platforms).toBeUndefined();
  });
});
