/** Runs every benchmark in bench/ one after another; each prints its own JSON summary line. */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const benches = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
let failed = false;
for (const file of benches) {
  const run = spawnSync(process.execPath, ["--import", "tsx", new URL(file, import.meta.url).pathname], {
    stdio: "inherit",
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
