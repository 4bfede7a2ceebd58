// Typings for the untyped packages that pack a build context and read an image export.
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

declare module "tar-stream" {
  import type { Readable, Writable } from "node:stream";
  interface Header {
    name: string;
    size?: number;
    type: "file" | "directory" | "symlink" | "link" | string;
  }
  interface Extract extends Writable {
    on(event: "entry", listener: (header: Header, stream: Readable, next: () => void) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
  export function extract(): Extract;
  const tar: { extract: typeof extract };
  export default tar;
}
