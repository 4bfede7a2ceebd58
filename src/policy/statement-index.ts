import type { CompiledStatement, StatementIndex } from "./types.ts";

export type { StatementIndex };

/**
 * Finds, for one request, the few statements that can apply, so that a policy of thousands of
 * statements costs about as much as the handful that name the request's resource.
 *
 * A resource pattern such as `acs:cr:*:*:repository/team5/*` holds literal tokens framed by
 * literal separators (`/`, `:`) or the pattern's ends: `team5` here. Wildcards only stand for
 * characters of the resource, so any resource the pattern matches holds `/team5/` verbatim, and
 * `team5` is one of its tokens. A statement is filed under the rarest such token of each of its
 * patterns; one with a pattern lacking a token (`*`, `NotResource`) is always a candidate.
 */

const SEPARATOR = /[/:]/;

/** Tokens of a pattern that are literal and framed by literal separators or the pattern's ends. */
export function framedTokens(pattern: string): string[] {
  const tokens: string[] = [];
  for (const token of pattern.split(SEPARATOR)) {
    if (token.length > 0 && !token.includes("*") && !token.includes("?")) tokens.push(token);
  }
  return tokens;
}

export function buildStatementIndex(statements: readonly CompiledStatement[]): StatementIndex {
  const frequency = new Map<string, number>();
  for (const s of statements) {
    if (s.resourceNegated) continue;
    for (const p of s.resourcePatterns)
      for (const t of new Set(framedTokens(p))) frequency.set(t, (frequency.get(t) ?? 0) + 1);
  }
  const always: CompiledStatement[] = [];
  const byToken = new Map<string, CompiledStatement[]>();
  for (const s of statements) {
    const keys = s.resourceNegated ? undefined : s.resourcePatterns.map((p) => rarest(framedTokens(p), frequency));
    if (!keys || keys.some((k) => k === undefined)) {
      always.push(s);
      continue;
    }
    for (const key of new Set(keys as string[])) {
      let list = byToken.get(key);
      if (!list) byToken.set(key, (list = []));
      list.push(s);
    }
  }
  if (byToken.size === 0) return { forEachCandidate: (_r, visit) => always.forEach(visit) };
  return {
    forEachCandidate(resource, visit) {
      for (let i = 0; i < always.length; i++) visit(always[i]!);
      let start = 0;
      for (let i = 0; i <= resource.length; i++) {
        const c = resource.charCodeAt(i);
        if (i < resource.length && c !== 47 /* / */ && c !== 58 /* : */) continue;
        if (i > start) {
          const list = byToken.get(resource.slice(start, i));
          if (list) for (let j = 0; j < list.length; j++) visit(list[j]!);
        }
        start = i + 1;
      }
    },
  };
}

function rarest(tokens: string[], frequency: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = Infinity;
  for (const t of tokens) {
    const n = frequency.get(t) ?? 0;
    if (n < bestCount) [best, bestCount] = [t, n];
  }
  return best;
}
