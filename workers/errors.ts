/** A failure that retrying cannot fix: a Dockerfile error, a denied push, refused git credentials. */
export class DeterministicError extends Error {
  override readonly name: string = "DeterministicError";
}

/** The worker's disk is full: the build fails with a clear message, and the worker prunes its cache. */
export class DiskFullError extends DeterministicError {
  override readonly name = "DiskFullError";
  private static readonly NO_SPACE = /no space left on device|ENOSPC/i;

  /** Whether a failure anywhere (git, tar, BuildKit, a push) came from a full disk. */
  static matches(err: unknown): boolean {
    return err instanceof DiskFullError || DiskFullError.NO_SPACE.test((err as Error)?.message ?? "");
  }

  static describe(err: unknown): string {
    const message = (err as Error).message;
    return err instanceof DiskFullError ? message : `the worker's disk is full: ${message}`;
  }
}

/** The registry refused a base image to the build credential; the worker asks Kiln why. */
export class BaseImageError extends DeterministicError {
  override readonly name = "BaseImageError";
  constructor(
    readonly image: string,
    message: string,
  ) {
    super(message);
  }
}
