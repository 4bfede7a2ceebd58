import { describe, expect, it } from "vitest";
import { inlineCacheLayers } from "../../workers/registry-access.ts";

/** BuildKit 0.8's inline cache as two real images carried it (moby.buildkit.cache.v0, decoded). */
const built = [
  { digest: "sha256:250a" },
  { layers: [{ layer: 2 }], digest: "sha256:2d94", inputs: [[{ link: 2 }], [{ link: 3 }]] },
  { layers: [{ layer: 1 }], digest: "sha256:4e88", inputs: [[{ link: 0 }]] },
  { digest: "sha256:b650" },
];
/** The next image, built on a fresh engine from the first one's cache: the imported RUN step lost its layer. */
const fromImport = [
  { digest: "sha256:250a" },
  { layers: [{ layer: 2 }], digest: "sha256:2d94", inputs: [[{ link: 3 }], [{ link: 2 }]] },
  { digest: "sha256:2f66" },
  { digest: "sha256:4e88", inputs: [[{ link: 0 }]] },
];
const config = (records: unknown) => ({
  "moby.buildkit.cache.v0": Buffer.from(JSON.stringify(records)).toString("base64"),
});

describe("how much of an image its inline cache can give back to another build", () => {
  it("counts the layers its records give back: fewer when an imported step lost its layer", () => {
    expect(inlineCacheLayers(config(built))).toBe(2);
    expect(inlineCacheLayers(config(fromImport))).toBe(1);
  });

  it("unknown without an inline cache, or with one that cannot be read", () => {
    expect(inlineCacheLayers({})).toBeUndefined();
    expect(inlineCacheLayers({ "moby.buildkit.cache.v0": "not base64 json" })).toBeUndefined();
    expect(inlineCacheLayers(config([]))).toBeUndefined();
  });
});
