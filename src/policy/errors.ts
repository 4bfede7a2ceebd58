/** A policy document that cannot be accepted. `path` names the offending element, e.g. `Statement[1].Condition.IpAddres`. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `${path}: ${reason}` : reason);
  }
}
