import type { Region } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { RegistryEvent } from "./notifications.ts";
import type { RegistryReader } from "./registry-reader.ts";

/**
 * How long a notification waits for the registry to say which platforms a pushed tag holds. The
 * registry gives up on Kiln after 5 s (its endpoint `timeout`) and sends the event again, so the
 * answer must come well before.
 */
export const PLATFORMS_TIMEOUT_MS = 2000;

/**
 * Fills `platforms` of every tagged manifest push (a push by digest makes no tag, so it is not
 * read): the platforms of an image index, or the one of an image. A manifest the registry does
 * not give in time, or at all, keeps `platforms` unset (the tag is recorded without them); this
 * never throws.
 */
export async function addPlatforms(
  events: RegistryEvent[],
  region: Region,
  reader: Pick<RegistryReader, "platformsOf">,
  log?: Pick<Logger, "warn">,
  timeoutMs = PLATFORMS_TIMEOUT_MS,
): Promise<void> {
  const pushes = events.filter((e) => e.action === "push" && e.tag && e.digest);
  if (pushes.length === 0) return;
  const signal = AbortSignal.timeout(timeoutMs);
  const reads = new Map<string, Promise<string[] | undefined>>();
  await Promise.all(
    pushes.map(async (e) => {
      const key = `${e.repository}@${e.digest}`;
      let read = reads.get(key);
      if (!read) {
        read = reader.platformsOf(region, e.repository, e.digest!, signal).catch((err: Error) => {
          log?.warn(
            { region: region.id, repository: e.repository, digest: e.digest, reason: err.message },
            "the platforms of a pushed tag could not be read from the registry",
          );
          return undefined;
        });
        reads.set(key, read);
      }
      const platforms = await read;
      if (platforms) e.platforms = platforms;
    }),
  );
}
