/** A failure that retrying cannot fix: a Dockerfile error, a denied push, refused git credentials. */
export class DeterministicError extends Error {
  override readonly name = "DeterministicError";
}
