// The architecture check of `npm run lint` bites: the project's .dependency-cruiser.mjs, run on a
// throw-away tree, reports every upward import between the layers of DESIGN §2, every cycle, the
// workers' and the composition's boundaries, and nothing else. It does not look at the real src/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { cruise, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const configFile = fileURLToPath(new URL("../../.dependency-cruiser.mjs", import.meta.url));

/**
 * DESIGN §2, lowest first, stated here on its own so that a rule lost from the config fails this
 * test. `targets` import nothing; `up` files import every layer above theirs; `down` files import
 * their own layer and every layer below.
 */
const LAYERS: { name: string; target: string; up: string[]; down: string[] }[] = [
  {
    name: "bottom",
    target: "src/names.ts",
    up: ["src/errors.ts", "src/metrics.ts", "src/config.ts", "src/logger.ts", "src/crypto/seal.ts"],
    down: [],
  },
  { name: "policy", target: "src/policy/t.ts", up: ["src/policy/up.ts"], down: ["src/policy/down.ts"] },
  { name: "db", target: "src/db/t.ts", up: ["src/db/up.ts"], down: ["src/db/down.ts"] },
  { name: "iam", target: "src/iam/t.ts", up: ["src/iam/up.ts"], down: ["src/iam/down.ts"] },
  { name: "catalog", target: "src/catalog/t.ts", up: ["src/catalog/up.ts"], down: ["src/catalog/down.ts"] },
  {
    name: "notifications",
    target: "src/notifications/t.ts",
    up: ["src/notifications/up.ts"],
    down: ["src/notifications/down.ts"],
  },
  { name: "registry", target: "src/registry/t.ts", up: ["src/registry/up.ts"], down: ["src/registry/down.ts"] },
  { name: "sources", target: "src/sources/t.ts", up: ["src/sources/up.ts"], down: ["src/sources/down.ts"] },
  { name: "builds", target: "src/builds/t.ts", up: ["src/builds/up.ts"], down: ["src/builds/down.ts"] },
  { name: "api", target: "src/api/t.ts", up: ["src/api/up.ts"], down: ["src/api/down.ts"] },
  { name: "console", target: "src/console/t.tsx", up: ["src/console/up.tsx"], down: ["src/console/down.tsx"] },
  { name: "composition", target: "src/server.ts", up: [], down: ["src/main.ts", "src/cli.ts", "src/deps.ts"] },
];

const TARGET_BODY = `export type Shape = { n: number };\nexport const value = 1;\n`;

/** Relative specifier from one tree file to another, with its .ts/.tsx extension as the project writes them. */
function specifier(from: string, to: string): string {
  const rel = posix.relative(posix.dirname(from), to);
  return rel.startsWith(".") ? rel : `./${rel}`;
}

const importLine = (from: string, to: string, i: number) =>
  `import { value as v${i} } from "${specifier(from, to)}";\nexport const use${i} = v${i};\n`;
const typeImportLine = (from: string, to: string, i: number) =>
  `import type { Shape as S${i} } from "${specifier(from, to)}";\nexport type Use${i} = S${i};\n`;

/** The throw-away tree (path → source) and the violations it must produce, as "rule from → to". */
function scenario(): { files: Map<string, string>; expected: string[] } {
  const files = new Map<string, string>();
  const expected: string[] = [];
  const add = (path: string, body: string) => files.set(path, (files.get(path) ?? "") + body);

  LAYERS.forEach((layer, i) => {
    add(layer.target, TARGET_BODY);
    const above = LAYERS.slice(i + 1);
    const belowAndOwn = LAYERS.slice(0, i + 1);
    for (const from of layer.up) {
      add(from, "");
      above.forEach((higher, k) => {
        // Every other one type-only: `import type` counts as much as a value import.
        add(from, (k % 2 ? typeImportLine : importLine)(from, higher.target, k));
        expected.push(`layer-${layer.name} ${from} → ${higher.target}`);
      });
    }
    for (const from of layer.down) {
      add(from, "");
      belowAndOwn.forEach((lower, k) => add(from, importLine(from, lower.target, k)));
    }
  });

  // Cycles between files, one of value imports and one of type-only imports; both are in one layer.
  add("src/builds/cycle-a.ts", importLine("src/builds/cycle-a.ts", "src/builds/cycle-b.ts", 0) + TARGET_BODY);
  add("src/builds/cycle-b.ts", importLine("src/builds/cycle-b.ts", "src/builds/cycle-a.ts", 0) + TARGET_BODY);
  add("src/policy/types-a.ts", typeImportLine("src/policy/types-a.ts", "src/policy/types-b.ts", 0) + TARGET_BODY);
  add("src/policy/types-b.ts", typeImportLine("src/policy/types-b.ts", "src/policy/types-a.ts", 0) + TARGET_BODY);

  // workers/ takes the job contract (src/builds) and the bottom modules, nothing else of src/.
  add(
    "workers/job.ts",
    importLine("workers/job.ts", "src/builds/t.ts", 0) +
      importLine("workers/job.ts", "src/config.ts", 1) +
      importLine("workers/job.ts", "src/crypto/seal.ts", 2) +
      TARGET_BODY,
  );
  ["src/db/t.ts", "src/iam/t.ts", "src/api/t.ts", "src/console/t.tsx", "src/policy/t.ts"].forEach((to, k) => {
    add("workers/bad.ts", importLine("workers/bad.ts", to, k));
    expected.push(`workers-use-the-job-contract workers/bad.ts → ${to}`);
  });
  // Only the composition modules import workers/ (src/main.ts starts the build worker lazily).
  add("src/main.ts", `export const start = () => import("${specifier("src/main.ts", "workers/job.ts")}");\n`);
  add("src/builds/runs-worker.ts", importLine("src/builds/runs-worker.ts", "workers/job.ts", 0));
  expected.push("src-not-to-workers src/builds/runs-worker.ts → workers/job.ts");

  // A file under src/ in no layer is reported from both ends.
  add("src/stray.ts", importLine("src/stray.ts", "src/names.ts", 0));
  add("src/api/uses-stray.ts", importLine("src/api/uses-stray.ts", "src/stray.ts", 0));
  expected.push(
    "layer-unknown-from src/stray.ts → src/names.ts",
    "layer-unknown-to src/api/uses-stray.ts → src/stray.ts",
  );

  // An import that does not resolve is an edge that cannot be checked.
  add("src/api/missing.ts", `import { gone } from "./nowhere.ts";\nexport const g = gone;\n`);
  expected.push("not-to-unresolvable src/api/missing.ts → ./nowhere.ts");

  // Node's own modules are fine anywhere.
  add("src/policy/t.ts", `import { sep } from "node:path";\nexport const separator = sep;\n`);

  return { files, expected };
}

describe("architecture check (.dependency-cruiser.mjs)", () => {
  let root: string;
  let result: ICruiseResult;
  const { files, expected } = scenario();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "kiln-arch-"));
    for (const [path, body] of files) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), body);
    }
    const options = await extractDepcruiseOptions(configFile);
    const out = await cruise(["src", "workers"], { ...options, baseDir: root, validate: true });
    result = out.output as ICruiseResult;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const violations = (rule?: string) => result.summary.violations.filter((v) => !rule || v.rule.name === rule);

  it("sees every file of the tree", () => {
    const seen = result.modules.map((m) => m.source).filter((s) => /^(src|workers)\//.test(s));
    expect(seen.sort()).toEqual([...files.keys()].sort());
  });

  it("reports exactly the upward imports, the boundary crossings and the unplaced file, all as errors", () => {
    const got = violations()
      .filter((v) => v.rule.name !== "no-circular")
      .map((v) => `${v.rule.name} ${v.from} → ${v.to}`);
    expect(got.sort()).toEqual([...expected].sort());
    expect(violations().every((v) => v.rule.severity === "error")).toBe(true);
  });

  it("counts type-only imports", () => {
    const typeOnly = violations().filter(
      (v) => v.rule.name.startsWith("layer-") && v.dependencyTypes?.includes("type-only"),
    );
    expect(typeOnly.map((v) => `${v.from} → ${v.to}`)).toContain("src/policy/up.ts → src/iam/t.ts");
  });

  it("does not report downward or same-layer imports", () => {
    const downFiles = new Set(LAYERS.flatMap((l) => l.down));
    expect(violations().filter((v) => downFiles.has(v.from))).toEqual([]);
  });

  it("reports cycles between files, of value imports and of type-only imports", () => {
    const cycles = violations("no-circular").map((v) => [v.from, ...(v.cycle ?? []).map((c) => c.name)].sort());
    const contains = (a: string, b: string) => cycles.some((c) => c.includes(a) && c.includes(b));
    expect(contains("src/builds/cycle-a.ts", "src/builds/cycle-b.ts")).toBe(true);
    expect(contains("src/policy/types-a.ts", "src/policy/types-b.ts")).toBe(true);
    expect(cycles.every((c) => c.every((f) => /cycle-|types-/.test(f)))).toBe(true);
  });
});
