import { joinContinuations } from "./dockerfile-images.ts";

/** A `RUN --mount=type=secret` of a Dockerfile: the secret's id and whether the step may run without it. */
export interface SecretMount {
  id: string;
  optional: boolean;
}

/**
 * The build secrets a Dockerfile mounts. The id defaults to the target's file name, as the
 * Dockerfile frontend has it. BuildKit runs a step whose secret is missing with no file in its
 * place; Kiln fails such a build before it starts, unless the mount says `required=false`.
 */
export function secretMounts(dockerfile: string): SecretMount[] {
  const mounts = new Map<string, SecretMount>();
  for (const line of joinContinuations(dockerfile)) {
    const [instruction = "", ...words] = line.trim().split(/\s+/);
    if (instruction.toUpperCase() !== "RUN") continue;
    for (const word of words) {
      const spec = /^--mount=(\S+)$/.exec(word)?.[1];
      if (!spec) continue;
      const fields = Object.fromEntries(
        spec.split(",").map((kv) => {
          const [key, value] = kv.split(/=(.*)/s) as [string, string | undefined];
          return [key.toLowerCase(), value ?? "true"];
        }),
      );
      if (fields.type !== "secret") continue;
      const target = fields.target ?? fields.dst ?? fields.destination;
      const id = fields.id || (target ? target.slice(target.lastIndexOf("/") + 1) : "");
      if (!id) continue;
      const optional = fields.required === undefined ? false : !/^(true|1)$/i.test(fields.required);
      const known = mounts.get(id);
      mounts.set(id, { id, optional: known ? known.optional && optional : optional });
    }
  }
  return [...mounts.values()];
}

/** The first secret the Dockerfile needs that the build does not have, as the user reads it. */
export function missingSecret(dockerfile: string, available: Iterable<string>): string | undefined {
  const have = new Set(available);
  const missing = secretMounts(dockerfile).find((m) => !m.optional && !have.has(m.id));
  return missing
    ? `the Dockerfile mounts the build secret "${missing.id}" (RUN --mount=type=secret,id=${missing.id}), which this repository does not have: set it under the repository's build secrets, or mark the mount required=false`
    : undefined;
}
