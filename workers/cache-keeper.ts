import type Docker from "dockerode";
import type { Logger } from "../src/logger.ts";
import { pruneBuildCache } from "./docker-build.ts";

/**
 * Keeps BuildKit's cache under its bound (KILN_BUILD_CACHE_GB) by a prune between builds: one at a
 * time, and one more after it when builds ended meanwhile. BuildKit prunes only records no build
 * is using, least recently used first.
 */
export class CacheKeeper {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly docker: Docker,
    private readonly keepBytes: number,
    private readonly log: Logger,
  ) {}

  trim(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = pruneBuildCache(this.docker, this.keepBytes)
      .then((freed) => {
        if (freed > 0) this.log.info({ freedBytes: freed, keepBytes: this.keepBytes }, "build cache trimmed");
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, "build cache prune failed"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trim();
        }
      });
  }

  /** Resolves when no prune runs (shutdown and tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
