import createIgnore from "@balena/dockerignore";
import { lstatSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import type { Readable } from "node:stream";
import tar from "tar-fs";

/**
 * The build context as an uncompressed tar stream (the engine is local: gzip would only cost CPU),
 * with `.dockerignore` applied as the docker CLI applies it: the engine's BuildKit does not filter
 * an uploaded context. The Dockerfile and `.dockerignore` are always sent, as docker sends them.
 */
export function packContext(contextDir: string, dockerfile: string): Readable {
  let rules = "";
  try {
    rules = readFileSync(`${contextDir}/.dockerignore`, "utf8");
  } catch {
    // no .dockerignore: everything goes
  }
  const ignore = createIgnore({ ignorecase: false }).add(rules);
  // An exception (`!keep/this`) may re-include a file below an ignored folder: walk every folder then.
  const mayReinclude = rules.split("\n").some((line) => line.trim().startsWith("!"));
  return tar.pack(contextDir, {
    ignore(path: string) {
      const inside = relative(contextDir, path);
      if (inside === dockerfile || inside === ".dockerignore") return false;
      if (mayReinclude && lstatSync(path).isDirectory()) return false;
      return ignore.ignores(inside);
    },
  }) as unknown as Readable;
}
