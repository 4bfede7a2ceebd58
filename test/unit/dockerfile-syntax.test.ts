import { describe, expect, it } from "vitest";
import { chooseFrontend } from "../../workers/dockerfile-syntax.ts";

describe("# syntax= directives", () => {
  it("Docker's own frontend is built by the engine's built-in one: the directive goes, other directives and line numbers stay", () => {
    const original = "# syntax=docker/dockerfile:1.4\n# escape=`\nFROM base\nRUN make\n";
    const choice = chooseFrontend(original);
    expect(choice.text).toBe("# escape=`\n\nFROM base\nRUN make\n");
    expect(choice.text.split("\n").indexOf("RUN make")).toBe(original.split("\n").indexOf("RUN make"));
    expect(choice.note).toMatch(/docker\/dockerfile:1\.4.*built-in/);
    for (const image of [
      "docker.io/docker/dockerfile:1",
      "docker/dockerfile",
      `docker/dockerfile:1@sha256:${"a".repeat(64)}`,
    ]) {
      expect(chooseFrontend(`# syntax = ${image}\nFROM base\n`).text).toBe("\nFROM base\n");
    }
  });

  it("another frontend is left for BuildKit to pull, with a note; a Dockerfile without a directive is untouched", () => {
    const custom = "# syntax=registry.example.com/team/frontend:2\nFROM base\n";
    expect(chooseFrontend(custom)).toEqual({
      text: custom,
      note: expect.stringContaining("registry.example.com/team/frontend:2"),
    });
    const plain = "FROM base\n# syntax=docker/dockerfile:1\n";
    expect(chooseFrontend(plain)).toEqual({ text: plain });
  });
});
