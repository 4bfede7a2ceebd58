import { BlockList, SocketAddress } from "node:net";
import { PolicyError } from "./errors.ts";
import { compileWildcard } from "./wildcard.ts";
import { addNetwork, parseAddress, parseBool, parseInstant, parseNumber } from "./values.ts";

/** Tests one request value against all of a key's policy values (ORed). */
type ValueTest = (requestValue: string) => boolean;

interface OperatorSpec {
  /** Negated operators are the complement of their base and are true when the key is missing. */
  negated: boolean;
  compile(values: string[], path: string): ValueTest;
}

function strings(eq: (a: string, b: string) => boolean): OperatorSpec["compile"] {
  return (values) => (v) => values.some((p) => eq(v, p));
}
const ignoreCase = (values: string[]): ValueTest => {
  const lowered = values.map((p) => p.toLowerCase());
  return (v) => lowered.includes(v.toLowerCase());
};
const like = (values: string[]): ValueTest => {
  const matchers = values.map((p) => compileWildcard(p, false));
  return (v) => matchers.some((m) => m(v));
};

function typed<T>(parse: (s: string) => T | undefined, kind: string, cmp: (req: T, pol: T) => boolean) {
  return (values: string[], path: string): ValueTest => {
    const parsed = values.map((raw, i) => {
      const value = parse(raw);
      if (value === undefined)
        throw new PolicyError(values.length > 1 ? `${path}[${i}]` : path, `"${raw}" is not ${kind}`);
      return value;
    });
    return (v) => {
      const req = parse(v);
      return req !== undefined && parsed.some((p) => cmp(req, p));
    };
  };
}
const numeric = (cmp: (a: number, b: number) => boolean) => typed(parseNumber, "a number", cmp);
const date = (cmp: (a: number, b: number) => boolean) => typed(parseInstant, "an ISO 8601 date", cmp);

/**
 * BlockList.check builds a SocketAddress from a string on every call, which dominated token
 * requests; a request's source address is parsed once and reused by every statement.
 */
const socketAddresses = new Map<string, SocketAddress | null>();
function socketAddressOf(v: string): SocketAddress | null {
  let cached = socketAddresses.get(v);
  if (cached === undefined) {
    const addr = parseAddress(v);
    cached = addr ? new SocketAddress({ address: addr[0], family: addr[1] }) : null;
    if (socketAddresses.size >= 10_000) socketAddresses.clear();
    socketAddresses.set(v, cached);
  }
  return cached;
}

const ipAddress = (values: string[], path: string): ValueTest => {
  const list = new BlockList();
  values.forEach((raw, i) => {
    if (!addNetwork(list, raw))
      throw new PolicyError(values.length > 1 ? `${path}[${i}]` : path, `"${raw}" is not an IP address or CIDR block`);
  });
  return (v) => {
    const addr = socketAddressOf(v);
    return addr !== null && list.check(addr);
  };
};

const positive = (compile: OperatorSpec["compile"]): OperatorSpec => ({ negated: false, compile });
const negative = (compile: OperatorSpec["compile"]): OperatorSpec => ({ negated: true, compile });

export const OPERATORS: Readonly<Record<string, OperatorSpec>> = Object.freeze({
  StringEquals: positive(strings((a, b) => a === b)),
  StringNotEquals: negative(strings((a, b) => a === b)),
  StringEqualsIgnoreCase: positive(ignoreCase),
  StringNotEqualsIgnoreCase: negative(ignoreCase),
  StringLike: positive(like),
  StringNotLike: negative(like),
  NumericEquals: positive(numeric((a, b) => a === b)),
  NumericNotEquals: negative(numeric((a, b) => a === b)),
  NumericLessThan: positive(numeric((a, b) => a < b)),
  NumericLessThanEquals: positive(numeric((a, b) => a <= b)),
  NumericGreaterThan: positive(numeric((a, b) => a > b)),
  NumericGreaterThanEquals: positive(numeric((a, b) => a >= b)),
  DateEquals: positive(date((a, b) => a === b)),
  DateNotEquals: negative(date((a, b) => a === b)),
  DateLessThan: positive(date((a, b) => a < b)),
  DateLessThanEquals: positive(date((a, b) => a <= b)),
  DateGreaterThan: positive(date((a, b) => a > b)),
  DateGreaterThanEquals: positive(date((a, b) => a >= b)),
  Bool: positive(typed(parseBool, "true or false", (a, b) => a === b)),
  IpAddress: positive(ipAddress),
  NotIpAddress: negative(ipAddress),
});

/** Own properties only: `constructor` or `__proto__` written as an operator must not resolve. */
export function operatorSpec(name: string): OperatorSpec | undefined {
  return Object.hasOwn(OPERATORS, name) ? OPERATORS[name] : undefined;
}

export type RequestContext = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface CompiledCondition {
  operator: string;
  key: string;
  negated: boolean;
  test: ValueTest;
}

export function compileCondition(operator: string, key: string, values: string[], path: string): CompiledCondition {
  const spec = operatorSpec(operator);
  if (!spec) throw new PolicyError(path, `unknown condition operator "${operator}"`);
  return { operator, key: key.toLowerCase(), negated: spec.negated, test: spec.compile(values, `${path}.${key}`) };
}

/** Condition keys are case-insensitive, as in RAM. */
function lookup(context: RequestContext, lowerKey: string): string | readonly string[] | undefined {
  for (const k in context) if (k.toLowerCase() === lowerKey) return context[k];
  return undefined;
}

export function conditionHolds(cond: CompiledCondition, context: RequestContext): boolean {
  const raw = lookup(context, cond.key);
  if (raw === undefined) return cond.negated;
  const values = typeof raw === "string" ? [raw] : raw;
  const any = values.some(cond.test);
  return cond.negated ? !any : any;
}
