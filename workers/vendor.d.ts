// Typings for the two untyped packages the build context is packed with.
declare module "@balena/dockerignore" {
  interface Ignore {
    add(patterns: string | string[]): Ignore;
    ignores(path: string): boolean;
  }
  export default function createIgnore(options?: { ignorecase?: boolean }): Ignore;
}

declare module "tar-fs" {
  import type { Readable } from "node:stream";
  export function pack(dir: string, options?: { ignore?: (path: string) => boolean }): Readable;
  const tar: { pack: typeof pack };
  export default tar;
}
