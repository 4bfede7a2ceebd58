import type { CompiledStatement, StatementIndex } from "./types.ts";

export type { StatementIndex };

/**
 * Finds, for one request, the few statements that can apply, so that a pool of thousands of
 * statements costs about as much as the handful that could name the request's resource.
 *
 * Wildcards only stand for characters of the resource, so every literal run of a pattern (the
 * text between `*` and `?`: `acs:cr:`, `:`, `:repository/team5-` and `/app` in
 * `acs:cr:*:*:repository/team5-??/app*`) stands verbatim in any resource the pattern matches,
 * framed by separators or not. Each pattern is filed under one run, its rarest: the run that the
 * fewest patterns of the set contain (ties go to the longer), so `:repository/team5-` rather
 * than `acs:cr:`. A request's resource is scanned once by an Aho–Corasick automaton over those
 * keys, which reports every key standing anywhere in it; their statements are the candidates.
 * A statement with a pattern that has no literal run (`*`, `???`) or with NotResource is a
 * candidate for every resource. Candidates are then matched in full, so the index never changes
 * a decision, only how many statements are tried.
 */

/** The literal runs of a pattern: its text split at `*` and `?`, empty pieces left out. */
export function literalRuns(pattern: string): string[] {
  const runs: string[] = [];
  let start = 0;
  for (let i = 0; i <= pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (i < pattern.length && c !== 42 /* * */ && c !== 63 /* ? */) continue;
    if (i > start) runs.push(pattern.slice(start, i));
    start = i + 1;
  }
  return runs;
}

const SEPARATOR = /[/:]/;

/**
 * Tokens of a pattern that are literal and framed by literal separators or the pattern's ends
 * (the previous index's keys; the bench uses it to describe its workload).
 */
export function framedTokens(pattern: string): string[] {
  const tokens: string[] = [];
  const parts = pattern.split(SEPARATOR);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.length > 0 && !part.includes("*") && !part.includes("?")) tokens.push(part);
  }
  return tokens;
}

/** Key sets this small are probed with `String.prototype.includes`, cheaper than an automaton. */
const FEW_KEYS = 16;

interface KeySink {
  found(key: number): void;
}

/** Multi-pattern substring search: which of the keys stand somewhere in a text. */
class KeyMatcher {
  private readonly rootTable = new Int32Array(128);
  private readonly rootWide = new Map<number, number>();
  private readonly edgeStart: Int32Array;
  private readonly edgeChar: Uint16Array;
  private readonly edgeNext: Int32Array;
  private readonly fail: Int32Array;
  /** The key ending at a node, or -1. */
  private readonly out: Int32Array;
  /** The nearest proper suffix node where a key ends, or -1. */
  private readonly dict: Int32Array;

  constructor(keys: readonly string[]) {
    const children: Map<number, number>[] = [new Map()];
    const outList: number[] = [-1];
    keys.forEach((key, k) => {
      let node = 0;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        let next = children[node]!.get(c);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          outList.push(-1);
          children[node]!.set(c, next);
        }
        node = next;
      }
      outList[node] = k;
    });
    const n = children.length;
    this.fail = new Int32Array(n);
    this.out = Int32Array.from(outList);
    this.dict = new Int32Array(n).fill(-1);
    let edges = 0;
    for (const c of children) edges += c.size;
    this.edgeStart = new Int32Array(n + 1);
    this.edgeChar = new Uint16Array(edges);
    this.edgeNext = new Int32Array(edges);
    let e = 0;
    for (let node = 0; node < n; node++) {
      this.edgeStart[node] = e;
      for (const [c, next] of children[node]!) {
        this.edgeChar[e] = c;
        this.edgeNext[e++] = next;
      }
    }
    this.edgeStart[n] = e;
    for (const [c, next] of children[0]!) {
      if (c < 128) this.rootTable[c] = next;
      else this.rootWide.set(c, next);
    }
    // Failure and dictionary links, breadth first.
    const queue: number[] = [...children[0]!.values()];
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      for (const [c, child] of children[node]!) {
        let f = this.fail[node]!;
        let target = -1;
        for (;;) {
          const t = children[f]!.get(c);
          if (t !== undefined && t !== child) {
            target = t;
            break;
          }
          if (f === 0) break;
          f = this.fail[f]!;
        }
        const failTo = target < 0 ? 0 : target;
        this.fail[child] = failTo;
        this.dict[child] = this.out[failTo]! >= 0 ? failTo : this.dict[failTo]!;
        queue.push(child);
      }
    }
  }

  private step(node: number, c: number): number {
    const { edgeStart, edgeChar, edgeNext, fail } = this;
    for (;;) {
      if (node === 0) return c < 128 ? this.rootTable[c]! : (this.rootWide.get(c) ?? 0);
      for (let e = edgeStart[node]!, end = edgeStart[node + 1]!; e < end; e++)
        if (edgeChar[e] === c) return edgeNext[e]!;
      node = fail[node]!;
    }
  }

  /** Tells `sink` of every occurrence of every key in `text`. */
  scan(text: string, sink: KeySink): void {
    const { out, dict } = this;
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      node = this.step(node, text.charCodeAt(i));
      let t = out[node]! >= 0 ? node : dict[node]!;
      while (t >= 0) {
        sink.found(out[t]!);
        t = dict[t]!;
      }
    }
  }
}

/**
 * How many patterns contain each run (as one of their runs or inside one): a run many patterns
 * share, such as `acs:cr:` or `:repository/`, is likely in most resources too.
 */
function containmentCounts(runs: readonly string[], patternRuns: readonly (readonly string[])[]): Int32Array {
  const counts = new Int32Array(runs.length);
  const stamp = new Int32Array(runs.length).fill(-1);
  const sink = {
    pattern: 0,
    found(r: number) {
      if (stamp[r] === this.pattern) return;
      stamp[r] = this.pattern;
      counts[r] = counts[r]! + 1;
    },
  };
  if (runs.length <= 24) {
    for (let p = 0; p < patternRuns.length; p++) {
      sink.pattern = p;
      const own = patternRuns[p]!;
      for (let r = 0; r < runs.length; r++)
        for (let o = 0; o < own.length; o++) if (own[o]!.includes(runs[r]!)) sink.found(r);
    }
    return counts;
  }
  const matcher = new KeyMatcher(runs);
  for (let p = 0; p < patternRuns.length; p++) {
    sink.pattern = p;
    for (const o of patternRuns[p]!) matcher.scan(o, sink);
  }
  return counts;
}

/**
 * The statements (each at a slot, in pool order) whose Action/NotAction applies to one action,
 * indexed by the literal runs of their resource patterns.
 */
export class ActionIndex implements StatementIndex, KeySink {
  /** Slots of the statements that are candidates for every resource. */
  private readonly always: number[] = [];
  private readonly keys: string[] = [];
  private readonly keySlots: number[][] = [];
  private readonly matcher: KeyMatcher | undefined;
  private readonly seen: Uint32Array;
  private epoch = 0;
  /** Where the probe under way appends its candidates. */
  private out: number[] = [];

  constructor(
    readonly statements: readonly CompiledStatement[],
    readonly policyNames: readonly (string | undefined)[],
  ) {
    this.seen = new Uint32Array(statements.length);
    const patternRuns: (readonly string[])[] = [];
    const owner: number[] = [];
    let choices = false;
    for (let slot = 0; slot < statements.length; slot++) {
      const s = statements[slot]!;
      const runs = s.resourceRuns;
      if (s.resourceNegated || runs.some((r) => r.length === 0)) {
        this.always.push(slot);
        continue;
      }
      for (const r of runs) {
        patternRuns.push(r);
        owner.push(slot);
        if (r.length > 1) choices = true;
      }
    }
    if (patternRuns.length === 0) {
      this.matcher = undefined;
      return;
    }
    let rarity = (run: string) => -run.length;
    if (choices) {
      const runIds = new Map<string, number>();
      for (const own of patternRuns) for (const r of own) if (!runIds.has(r)) runIds.set(r, runIds.size);
      const counts = containmentCounts([...runIds.keys()], patternRuns);
      // Fewest patterns first, then the longer run.
      rarity = (run) => counts[runIds.get(run)!]! * 4096 - run.length;
    }
    const keyIds = new Map<string, number>();
    for (let p = 0; p < patternRuns.length; p++) {
      const own = patternRuns[p]!;
      let best = own[0]!;
      let bestRarity = rarity(best);
      for (let i = 1; i < own.length; i++) {
        const r = rarity(own[i]!);
        if (r < bestRarity) [best, bestRarity] = [own[i]!, r];
      }
      let k = keyIds.get(best);
      if (k === undefined) {
        keyIds.set(best, (k = this.keys.length));
        this.keys.push(best);
        this.keySlots.push([]);
      }
      const list = this.keySlots[k]!;
      if (list[list.length - 1] !== owner[p]) list.push(owner[p]!);
    }
    this.matcher = this.keys.length > FEW_KEYS ? new KeyMatcher(this.keys) : undefined;
  }

  /** Appends to `out` the slot of every statement that may apply to `resource`, each once, in no order. */
  candidates(resource: string, out: number[]): void {
    const always = this.always;
    for (let i = 0; i < always.length; i++) out.push(always[i]!);
    const keys = this.keys;
    if (keys.length === 0) return;
    let epoch = (this.epoch + 1) >>> 0;
    if (epoch === 0) {
      this.seen.fill(0);
      epoch = 1;
    }
    this.epoch = epoch;
    this.out = out;
    if (this.matcher) this.matcher.scan(resource, this);
    else for (let k = 0; k < keys.length; k++) if (resource.includes(keys[k]!)) this.found(k);
  }

  /** A key stands in the resource: its statements are candidates. */
  found(k: number): void {
    const slots = this.keySlots[k]!;
    const { seen, epoch, out } = this;
    for (let j = 0; j < slots.length; j++) {
      const slot = slots[j]!;
      if (seen[slot] !== epoch) {
        seen[slot] = epoch;
        out.push(slot);
      }
    }
  }

  forEachCandidate(resource: string, visit: (s: CompiledStatement) => void): void {
    const slots: number[] = [];
    this.candidates(resource, slots);
    for (const slot of slots) visit(this.statements[slot]!);
  }
}
