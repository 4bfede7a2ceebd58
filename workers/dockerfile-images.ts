/**
 * The images a Dockerfile names: every `FROM`, `COPY --from=`, `RUN --mount=…,from=` that is not
 * a stage of the file, and the `# syntax=` frontend. `ARG`s declared before the first `FROM`
 * are expanded with their defaults, overridden by the build's args; `automatic` holds BuildKit's
 * own global args (TARGETARCH and the like, see platformArgs). Pure text work: the
 * worker checks each image of its own registry with Kiln before the build, because BuildKit uses
 * an image already on the engine without asking the registry.
 */
export function referencedImages(
  dockerfile: string,
  buildArgs: Record<string, string>,
  automatic: Record<string, string> = {},
): string[] {
  const lines = joinContinuations(dockerfile);
  const globals: Record<string, string> = { ...automatic };
  const stages = new Set<string>();
  const images = new Set<string>();
  let seenFrom = false;
  // As the Dockerfile frontend expands: an unset variable is empty; `${V:-word}`, `${V:+word}`.
  const expand = (text: string) =>
    text.replace(
      /\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)/g,
      (_whole, name: string, op: string, word: string, bare: string) => {
        const value = globals[name ?? bare] ?? "";
        if (op === "-") return value || word;
        if (op === "+") return value ? word : "";
        return value;
      },
    );
  const add = (ref: string) => {
    const image = expand(ref);
    if (image && !stages.has(image.toLowerCase()) && image !== "scratch" && !/^\d+$/.test(image)) images.add(image);
  };
  const syntax = /^#\s*syntax\s*=\s*(\S+)/i.exec(dockerfile);
  if (syntax) images.add(syntax[1]!);
  for (const line of lines) {
    const [instruction = "", ...words] = line.trim().split(/\s+/);
    switch (instruction.toUpperCase()) {
      case "ARG":
        if (seenFrom) break;
        for (const word of words) {
          const [name, value] = word.split(/=(.*)/s) as [string, string | undefined];
          globals[name] =
            buildArgs[name] ?? (value === undefined ? (globals[name] ?? "") : value.replace(/^"(.*)"$/, "$1"));
        }
        break;
      case "FROM": {
        seenFrom = true;
        const args = words.filter((w) => !w.startsWith("--"));
        if (args[0]) add(args[0]);
        if (args[1]?.toUpperCase() === "AS" && args[2]) stages.add(args[2].toLowerCase());
        break;
      }
      case "COPY":
      case "RUN":
        for (const word of words) {
          const from = /^--from=(\S+)$/.exec(word)?.[1] ?? /^--mount=(?:.*,)?from=([^,\s]+)/.exec(word)?.[1];
          if (from) add(from);
        }
        break;
    }
  }
  return [...images];
}

export function joinContinuations(text: string): string[] {
  return text
    .replace(/\\\r?\n/g, " ")
    .split("\n")
    .filter((line) => !/^\s*#/.test(line));
}

/** BuildKit's automatic platform args for building `target` (`os/arch[/variant]`) on `build`. */
export function platformArgs(target: string, build: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const [prefix, platform] of [
    ["TARGET", target],
    ["BUILD", build],
  ] as const) {
    const [os = "", arch = "", variant = ""] = platform.split("/");
    Object.assign(args, {
      [`${prefix}PLATFORM`]: platform,
      [`${prefix}OS`]: os,
      [`${prefix}ARCH`]: arch,
      [`${prefix}VARIANT`]: variant,
    });
  }
  return args;
}
