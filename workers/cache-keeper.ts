import type Docker from "dockerode";
import type { Logger } from "../src/logger.ts";
import { pruneBuildCache } from "./docker-build.ts";

/** Under steady load a worker is never idle: the cache is trimmed at least this often then. */
const BUSY_TRIM_MS = 5 * 60_000;

/**
 * Keeps BuildKit's cache under its bound (KILN_BUILD_CACHE_GB) by the engine's prune between
 * builds: when the worker has no build left running, or every few minutes while it stays busy,
 * so that a prune never competes with a build for the engine. One prune at a time; BuildKit
 * removes only records no build uses, least recently used first.
 */
export class CacheKeeper {
  private running: Promise<void> | undefined;
  private active = 0;
  private lastTrim = Date.now();

  constructor(
    private readonly docker: Docker,
    private readonly keepBytes: number,
    private readonly log: Logger,
  ) {}

  buildStarted(): void {
    this.active++;
  }

  /** A build ended; `urgent` (a full disk) trims whatever else runs. */
  buildEnded(urgent = false): void {
    this.active--;
    if (urgent || this.active === 0 || Date.now() - this.lastTrim > BUSY_TRIM_MS) this.trim();
  }

  private trim(): void {
    if (this.running) return;
    this.lastTrim = Date.now();
    this.running = pruneBuildCache(this.docker, this.keepBytes)
      .then((freed) => {
        if (freed > 0) this.log.info({ freedBytes: freed, keepBytes: this.keepBytes }, "build cache trimmed");
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, "build cache prune failed"))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Resolves when no prune runs (shutdown and tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
