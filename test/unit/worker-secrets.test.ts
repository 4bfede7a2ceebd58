import { describe, expect, it } from "vitest";
import { missingSecret, secretMounts } from "../../workers/dockerfile-secrets.ts";
import { secretMasker } from "../../workers/log-mask.ts";

describe("build secrets in the worker: which a Dockerfile needs, and masking in the log", () => {
  it("finds every secret mount: id, or the target's file name; required=false makes it optional", () => {
    const dockerfile = [
      "FROM base",
      "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci",
      "RUN --mount=type=cache,target=/cache \\",
      "    --mount=type=secret,target=/etc/pip.conf pip install -r req.txt",
      "RUN --mount=type=secret,id=optional,required=false test -e /run/secrets/optional || true",
      "# RUN --mount=type=secret,id=commented",
      "",
    ].join("\n");
    expect(secretMounts(dockerfile)).toEqual([
      { id: "npmrc", optional: false },
      { id: "pip.conf", optional: false },
      { id: "optional", optional: true },
    ]);
    expect(missingSecret(dockerfile, ["npmrc", "pip.conf"])).toBeUndefined();
    expect(missingSecret(dockerfile, ["npmrc"])).toMatch(/mounts the build secret "pip\.conf"/);
  });

  it("a secret mounted optionally in one step and required in another is required", () => {
    const dockerfile = "FROM b\nRUN --mount=type=secret,id=t,required=false x\nRUN --mount=type=secret,id=t y\n";
    expect(secretMounts(dockerfile)).toEqual([{ id: "t", optional: false }]);
  });

  it("masks each value, and each line of a multi-line value, but not pieces too short to be secret", () => {
    const mask = secretMasker(["s3cr3t-token", "line-one-value\nline-two-value\n", "ab"]);
    expect(mask("token is s3cr3t-token, again s3cr3t-token")).toBe("token is ****, again ****");
    expect(mask("#7 line-two-value")).toBe("#7 ****");
    expect(mask("a cab and ab")).toBe("a cab and ab");
    expect(secretMasker([])("nothing to hide")).toBe("nothing to hide");
  });
});
