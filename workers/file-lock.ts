import { closeSync, openSync, rmSync, statSync, utimesSync } from "node:fs";

/** A holder touches its lock this often; a lock untouched for STALE_MS belongs to a dead holder. */
const TOUCH_MS = 5_000;
const STALE_MS = 30_000;
const RETRY_MS = 50;

/**
 * Runs `work` while holding `path` as a lock among processes, which may run on other machines
 * sharing the directory (worker containers on one volume): the lock is a file created
 * exclusively. A holder that died leaves it behind; it is taken over once it has not been
 * touched for 30 s.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      closeSync(openSync(path, "wx"));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (untouchedFor(path) > STALE_MS) rmSync(path, { force: true });
      else await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  const touch = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // taken over after all: the work goes on, as it would have without the lock
    }
  }, TOUCH_MS);
  touch.unref();
  try {
    return await work();
  } finally {
    clearInterval(touch);
    rmSync(path, { force: true });
  }
}

function untouchedFor(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0; // gone meanwhile: try again at once
  }
}
