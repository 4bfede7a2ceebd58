// The architecture check behind `npm run lint` (dependency-cruiser). The layers are the ones in
// DESIGN §2, lowest first: a module may import its own layer and the layers below it, never one
// above. Type-only imports count (tsPreCompilationDeps). test/unit/architecture.test.ts proves that
// each rule bites on a throw-away tree.

/** [name, path patterns], lowest first. Every file under src/ belongs to exactly one layer. */
export const layers = [
  ["bottom", ["^src/(errors|metrics|config|logger|names)\\.ts$", "^src/crypto/"]],
  ["policy", ["^src/policy/"]],
  ["db", ["^src/db/"]],
  ["iam", ["^src/iam/"]],
  ["catalog", ["^src/catalog/"]],
  ["notifications", ["^src/notifications/"]],
  ["registry", ["^src/registry/"]],
  ["sources", ["^src/sources/"]],
  ["builds", ["^src/builds/"]],
  ["api", ["^src/api/"]],
  ["console", ["^src/console/"]],
  ["composition", ["^src/(main|cli|deps|server)\\.ts$"]],
];

const pathsOf = (name) => layers.find(([n]) => n === name)[1];
const layered = layers.flatMap(([, paths]) => paths);

/** One rule per layer: it may not import any layer above it. */
const layerRules = layers.slice(0, -1).map(([name, paths], i) => {
  const above = layers.slice(i + 1);
  return {
    name: `layer-${name}`,
    severity: "error",
    comment: `${name} is below ${above.map(([n]) => n).join(", ")}: every import points down (DESIGN §2)`,
    from: { path: paths },
    to: { path: above.flatMap(([, p]) => p) },
  };
});

/** @type {import("dependency-cruiser").IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import cycles between files, type-only imports included",
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "layer-unknown-from",
      severity: "error",
      comment: "A file under src/ that is in no layer: add it to `layers` in .dependency-cruiser.mjs (and DESIGN §2)",
      from: { path: "^src/", pathNot: layered },
      to: {},
    },
    {
      name: "layer-unknown-to",
      severity: "error",
      comment: "A file under src/ that is in no layer: add it to `layers` in .dependency-cruiser.mjs (and DESIGN §2)",
      from: {},
      to: { path: "^src/", pathNot: layered },
    },
    {
      name: "workers-use-the-job-contract",
      severity: "error",
      comment:
        "workers/ imports only src/builds (the job contract) and the bottom modules; never db, iam, api, console",
      from: { path: "^workers/" },
      to: { path: "^src/", pathNot: [...pathsOf("bottom"), ...pathsOf("builds")] },
    },
    {
      name: "src-not-to-workers",
      severity: "error",
      comment: "Only the composition modules (src/main.ts starts the build worker) import workers/",
      from: { path: "^src/", pathNot: pathsOf("composition") },
      to: { path: "^workers/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import the checker cannot resolve is an edge it cannot check",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      extensions: [".ts", ".tsx", ".js", ".mjs", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
