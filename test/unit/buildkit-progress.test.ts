import { describe, expect, it } from "vitest";
import { BuildProgress } from "../../workers/buildkit/progress.ts";
import type { StatusResponse, Vertex } from "../../workers/buildkit/proto.ts";

const at = (seconds: number) => ({ seconds, nanos: 0 });
const vertex = (digest: string, name: string, more: Partial<Vertex> = {}): Vertex => ({
  digest,
  name,
  cached: false,
  error: "",
  ...more,
});
const status = (vertexes: Vertex[], logs: [string, string][] = []): StatusResponse => ({
  vertexes,
  logs: logs.map(([v, msg]) => ({ vertex: v, stream: 1, msg: Buffer.from(msg) })),
});

function run(updates: StatusResponse[]) {
  const lines: string[] = [];
  const progress = new BuildProgress((line) => lines.push(line));
  for (const u of updates) progress.update(u);
  progress.end();
  return { lines, failure: progress.failure };
}

describe("BuildKit's status stream as log lines", () => {
  it("numbers each step once when it starts, then its output, then its duration", () => {
    const { lines } = run([
      status([vertex("a", "[1/2] FROM base", { cached: true, started: at(1), completed: at(1) })]),
      status([vertex("b", "[2/2] RUN make", { started: at(10) })]),
      status([vertex("b", "[2/2] RUN make", { started: at(10) })], [["b", "compiling one\ncompil"]]),
      status([], [["b", "ing two\n"]]),
      status([vertex("b", "[2/2] RUN make", { started: at(10), completed: at(12.5) })]),
    ]);
    expect(lines).toEqual([
      "#1 [1/2] FROM base",
      "#1 CACHED",
      "#2 [2/2] RUN make",
      "#2 compiling one",
      "#2 compiling two",
      "#2 DONE 2.5s",
    ]);
  });

  it("names the failing step, its error and its last output lines, not the steps BuildKit abandoned because of it", () => {
    const { lines, failure } = run([
      status(
        [vertex("x", "[a 2/2] RUN sleep 5", { started: at(1) }), vertex("y", "[b 2/2] RUN exit 3", { started: at(1) })],
        [
          ["y", "one\ntwo\nthree\nfour\nfive\n"],
          ["y", "exec /bin/sh: exec format error\n"],
        ],
      ),
      status([
        vertex("y", "[b 2/2] RUN exit 3", {
          started: at(1),
          completed: at(2),
          error: "executor failed running [/bin/sh -c exit 3]: exit code: 3",
        }),
      ]),
      status([vertex("x", "[a 2/2] RUN sleep 5", { started: at(1), completed: at(2), error: "context canceled" })]),
    ]);
    expect(failure).toEqual({
      step: "[b 2/2] RUN exit 3",
      error: "executor failed running [/bin/sh -c exit 3]: exit code: 3",
      output: ["two", "three", "four", "five", "exec /bin/sh: exec format error"],
    });
    expect(lines).toContain("#2 ERROR: executor failed running [/bin/sh -c exit 3]: exit code: 3");
    expect(lines).toContain("#1 ERROR: context canceled");
  });

  it("keeps the last state of a line redrawn with carriage returns, and output that never ends its line", () => {
    const { lines } = run([
      status(
        [vertex("p", "[1/1] RUN fetch", { started: at(0) })],
        [
          ["p", "10%\r50%\r100%\n"],
          ["p", "no newline at the end"],
        ],
      ),
    ]);
    expect(lines).toEqual(["#1 [1/1] RUN fetch", "#1 100%", "#1 no newline at the end"]);
  });
});
