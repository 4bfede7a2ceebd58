import { BlockList, isIP, SocketAddress } from "node:net";
import { PolicyError } from "./errors.ts";
import { compileWildcard, type Matcher } from "./wildcard.ts";
import { addNetwork, parseAddress, parseBool, parseInstant, parseNumber } from "./values.ts";

export type RequestContext = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * One context key of one request, with its values parsed on first use into the type an operator
 * compares (number, instant, bool, address, lower case) and kept for every later statement.
 */
export class ContextValues {
  private lower?: string[];
  private numbers?: (number | undefined)[];
  private instants?: (number | undefined)[];
  private bools?: (boolean | undefined)[];
  private addresses?: (RequestAddress | undefined)[];
  constructor(readonly raw: readonly string[]) {}

  lowerCased(): readonly string[] {
    return (this.lower ??= this.raw.map((v) => v.toLowerCase()));
  }
  asNumbers(): readonly (number | undefined)[] {
    return (this.numbers ??= this.raw.map(parseNumber));
  }
  asInstants(): readonly (number | undefined)[] {
    return (this.instants ??= this.raw.map(parseInstant));
  }
  asBools(): readonly (boolean | undefined)[] {
    return (this.bools ??= this.raw.map(parseBool));
  }
  asAddresses(): readonly (RequestAddress | undefined)[] {
    return (this.addresses ??= this.raw.map(requestAddress));
  }
}

/**
 * A request's context, prepared once per evaluation: keys are case-folded once (condition keys are
 * case-insensitive, as in RAM; the first key in the context's order wins, as a lookup would find
 * it), values are parsed lazily and shared by every statement that reads them.
 */
export class PreparedContext {
  private byKey?: Map<string, ContextValues | null>;
  constructor(private readonly context: RequestContext) {}

  /** The values of a lower-cased key, or undefined when the request does not carry it. */
  get(lowerKey: string): ContextValues | undefined {
    let map = this.byKey;
    if (map === undefined) {
      map = this.byKey = new Map();
      const context = this.context;
      for (const k in context) {
        const folded = k.toLowerCase();
        if (map.has(folded)) continue;
        const raw = context[k];
        map.set(folded, raw === undefined ? null : new ContextValues(typeof raw === "string" ? [raw] : raw));
      }
    }
    return map.get(lowerKey) ?? undefined;
  }
}

/** A request address: IPv4 as an unsigned 32-bit number for the fast path, and the SocketAddress BlockList needs. */
interface RequestAddress {
  v4: number | undefined;
  socket: SocketAddress | undefined;
  text: string;
  family: "ipv4" | "ipv6";
}

function requestAddress(value: string): RequestAddress | undefined {
  const parsed = parseAddress(value);
  if (!parsed) return undefined;
  const [text, family] = parsed;
  // `::ffff:999.1.1.1` passes the mapped-address pattern but is no address.
  if (family === "ipv4" && isIP(text) !== 4) return undefined;
  return { v4: family === "ipv4" ? ipv4Number(text) : undefined, socket: undefined, text, family };
}

function socketOf(a: RequestAddress): SocketAddress {
  return (a.socket ??= new SocketAddress({ address: a.text, family: a.family }));
}

/** Dotted quad to an unsigned number (the text has passed isIP). */
function ipv4Number(text: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/** Tests a key's prepared values against the condition's policy values (request values ORed, policy values ORed). */
type ValuesTest = (values: ContextValues) => boolean;

interface OperatorSpec {
  /** Negated operators are the complement of their base and are true when the key is missing. */
  negated: boolean;
  compile(values: string[], path: string): ValuesTest;
}

const strings = (values: string[]): ValuesTest => {
  if (values.length === 1) {
    const only = values[0]!;
    return (v) => v.raw.includes(only);
  }
  const set = new Set(values);
  return (v) => v.raw.some((x) => set.has(x));
};
const ignoreCase = (values: string[]): ValuesTest => {
  const set = new Set(values.map((p) => p.toLowerCase()));
  return (v) => v.lowerCased().some((x) => set.has(x));
};
const like = (values: string[]): ValuesTest => {
  const matchers: Matcher[] = values.map((p) => compileWildcard(p, false));
  return (v) => v.raw.some((x) => matchers.some((m) => m(x)));
};

function parseAll<T>(values: string[], path: string, parse: (s: string) => T | undefined, kind: string): T[] {
  return values.map((raw, i) => {
    const value = parse(raw);
    if (value === undefined)
      throw new PolicyError(values.length > 1 ? `${path}[${i}]` : path, `"${raw}" is not ${kind}`);
    return value;
  });
}

function anyPair<T>(requested: readonly (T | undefined)[], policy: readonly T[], cmp: (req: T, pol: T) => boolean) {
  for (let i = 0; i < requested.length; i++) {
    const r = requested[i];
    if (r === undefined) continue;
    for (let j = 0; j < policy.length; j++) if (cmp(r, policy[j]!)) return true;
  }
  return false;
}

const numeric =
  (cmp: (a: number, b: number) => boolean) =>
  (values: string[], path: string): ValuesTest => {
    const parsed = parseAll(values, path, parseNumber, "a number");
    return (v) => anyPair(v.asNumbers(), parsed, cmp);
  };
const date =
  (cmp: (a: number, b: number) => boolean) =>
  (values: string[], path: string): ValuesTest => {
    const parsed = parseAll(values, path, parseInstant, "an ISO 8601 date");
    return (v) => anyPair(v.asInstants(), parsed, cmp);
  };
const bool = (values: string[], path: string): ValuesTest => {
  const parsed = parseAll(values, path, parseBool, "true or false");
  return (v) => anyPair(v.asBools(), parsed, (a, b) => a === b);
};

/**
 * Networks as a BlockList, the reference for every family mix (IPv4-mapped IPv6 matches IPv4
 * networks and back). When every network is IPv4, an IPv4 request is compared as numbers, which
 * is what BlockList does for that mix, without a call into the runtime.
 */
const ipAddress = (values: string[], path: string): ValuesTest => {
  const list = new BlockList();
  const v4: number[] = []; // [base, size] pairs
  let v4Only = true;
  values.forEach((raw, i) => {
    if (!addNetwork(list, raw))
      throw new PolicyError(values.length > 1 ? `${path}[${i}]` : path, `"${raw}" is not an IP address or CIDR block`);
    const [addr, prefixText] = raw.trim().split("/");
    const parsed = parseAddress(addr!)!;
    if (parsed[1] !== "ipv4") v4Only = false;
    else {
      const size = 2 ** (32 - (prefixText === undefined ? 32 : Number(prefixText)));
      const n = ipv4Number(parsed[0]);
      v4.push(n - (n % size), size);
    }
  });
  const inV4 = (n: number): boolean => {
    for (let j = 0; j < v4.length; j += 2) if (n >= v4[j]! && n < v4[j]! + v4[j + 1]!) return true;
    return false;
  };
  return (v) => {
    const addresses = v.asAddresses();
    for (let i = 0; i < addresses.length; i++) {
      const a = addresses[i];
      if (a === undefined) continue;
      if (v4Only && a.v4 !== undefined ? inV4(a.v4) : list.check(socketOf(a))) return true;
    }
    return false;
  };
};

const positive = (compile: OperatorSpec["compile"]): OperatorSpec => ({ negated: false, compile });
const negative = (compile: OperatorSpec["compile"]): OperatorSpec => ({ negated: true, compile });

export const OPERATORS: Readonly<Record<string, OperatorSpec>> = Object.freeze({
  StringEquals: positive(strings),
  StringNotEquals: negative(strings),
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
  Bool: positive(bool),
  IpAddress: positive(ipAddress),
  NotIpAddress: negative(ipAddress),
});

/** Own properties only: `constructor` or `__proto__` written as an operator must not resolve. */
export function operatorSpec(name: string): OperatorSpec | undefined {
  return Object.hasOwn(OPERATORS, name) ? OPERATORS[name] : undefined;
}

export interface CompiledCondition {
  operator: string;
  /** Lower-cased. */
  key: string;
  negated: boolean;
  test: ValuesTest;
}

export function compileCondition(operator: string, key: string, values: string[], path: string): CompiledCondition {
  const spec = operatorSpec(operator);
  if (!spec) throw new PolicyError(path, `unknown condition operator "${operator}"`);
  return { operator, key: key.toLowerCase(), negated: spec.negated, test: spec.compile(values, `${path}.${key}`) };
}

/** A missing key makes a condition false, except for negated operators, which are then true. */
export function preparedConditionHolds(cond: CompiledCondition, context: PreparedContext): boolean {
  const values = context.get(cond.key);
  if (values === undefined) return cond.negated;
  return cond.test(values) !== cond.negated;
}

/** One condition against a raw context (prepares it; evaluation prepares a request's context once). */
export function conditionHolds(cond: CompiledCondition, context: RequestContext): boolean {
  return preparedConditionHolds(cond, new PreparedContext(context));
}
