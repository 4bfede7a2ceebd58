import { describe, expect, it } from "vitest";
import { platformArgs, referencedImages } from "../../workers/dockerfile-images.ts";

describe("the images a Dockerfile names (checked against policy before a build)", () => {
  it("FROM, COPY --from, RUN --mount from= and # syntax=, with ARG defaults and build args expanded; stages are not images", () => {
    const dockerfile = [
      "# syntax=r:5000/tools/frontend:1",
      "ARG BASE=r:5000/a/base:1",
      "ARG TOOLS_TAG",
      "FROM ${BASE} AS build",
      "RUN --mount=type=cache,target=/x \\",
      "    --mount=type=bind,from=r:5000/b/tools:$TOOLS_TAG,target=/t make",
      "FROM --platform=linux/amd64 scratch",
      "COPY --from=build /a /a",
      "COPY --from=0 /a /b",
      "COPY --chmod=0755 --from=r:5000/c/x:2 /b /b",
      "ARG LATE=r:5000/never/expanded",
      "FROM ${LATE}",
    ].join("\n");
    expect(referencedImages(dockerfile, { TOOLS_TAG: "9" })).toEqual([
      "r:5000/tools/frontend:1",
      "r:5000/a/base:1",
      "r:5000/b/tools:9",
      "r:5000/c/x:2",
    ]);
  });

  it("a build arg overrides an ARG default, as BuildKit applies it", () => {
    expect(referencedImages("ARG BASE=r:5000/a/base:1\nFROM $BASE\n", { BASE: "r:5000/other/base:2" })).toEqual([
      "r:5000/other/base:2",
    ]);
    expect(referencedImages("FROM ${UNSET:-r:5000/other1/base:1}\nFROM ${UNSET:+x}r:5000/b/c\n", {})).toEqual([
      "r:5000/other1/base:1",
      "r:5000/b/c",
    ]);
  });

  it("expands BuildKit's automatic platform args, as each platform's build sees them", () => {
    const dockerfile =
      "FROM r:5000/a/base-${TARGETARCH}:1\nFROM --platform=$BUILDPLATFORM r:5000/a/tools-${BUILDARCH}\n";
    expect(referencedImages(dockerfile, {}, platformArgs("linux/arm64", "linux/amd64"))).toEqual([
      "r:5000/a/base-arm64:1",
      "r:5000/a/tools-amd64",
    ]);
    expect(platformArgs("linux/arm/v7", "linux/amd64")).toMatchObject({
      TARGETPLATFORM: "linux/arm/v7",
      TARGETOS: "linux",
      TARGETARCH: "arm",
      TARGETVARIANT: "v7",
      BUILDARCH: "amd64",
    });
  });
});
