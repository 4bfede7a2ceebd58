/**
 * RAM wildcards: `*` is any run of characters (across `/` and `:`), `?` exactly one.
 * Patterns compile once into a predicate; the general case is a linear backtracking-free
 * two-pointer match, so no pattern (however many stars) can make evaluation slow.
 */
export type Matcher = (value: string) => boolean;

const always: Matcher = () => true;

export function compileWildcard(pattern: string, ignoreCase: boolean): Matcher {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  if (p === "*") return always;
  const starCount = countOf(p, "*");
  const hasQuestion = p.includes("?");
  if (starCount === 0 && !hasQuestion) return (v) => v === p;
  if (!hasQuestion && starCount === 1) {
    const star = p.indexOf("*");
    const prefix = p.slice(0, star);
    const suffix = p.slice(star + 1);
    if (suffix === "") return (v) => v.startsWith(prefix);
    if (prefix === "") return (v) => v.endsWith(suffix);
    const min = prefix.length + suffix.length;
    return (v) => v.length >= min && v.startsWith(prefix) && v.endsWith(suffix);
  }
  return segmentMatcher(p);
}

function countOf(s: string, ch: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s[i] === ch) n++;
  return n;
}

interface Segment {
  text: string;
  /** `?` inside the segment forces a per-character compare; otherwise native string search. */
  hasQuestion: boolean;
}

function segment(text: string): Segment {
  return { text, hasQuestion: text.includes("?") };
}

/** Does the segment stand in `v` at `at`? */
function segmentAt(seg: Segment, v: string, at: number): boolean {
  const t = seg.text;
  if (at < 0 || at + t.length > v.length) return false;
  if (!seg.hasQuestion) return v.startsWith(t, at);
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 63 /* ? */ && c !== v.charCodeAt(at + i)) return false;
  }
  return true;
}

/** Leftmost position >= from where the segment stands in `v`, or -1. */
function findSegment(seg: Segment, v: string, from: number): number {
  if (!seg.hasQuestion) return v.indexOf(seg.text, from);
  for (let at = from; at + seg.text.length <= v.length; at++) if (segmentAt(seg, v, at)) return at;
  return -1;
}

/**
 * `p0*p1*…*pk`: p0 is a prefix, pk a suffix, and each middle part is taken at its leftmost place;
 * leftmost placement never loses a match, so this needs no backtracking and no regex.
 */
function segmentMatcher(p: string): Matcher {
  const parts = p.split("*");
  if (parts.length === 1) {
    const whole = segment(p);
    return (v) => v.length === p.length && segmentAt(whole, v, 0);
  }
  const head = segment(parts[0]!);
  const tail = segment(parts[parts.length - 1]!);
  const middle = parts
    .slice(1, -1)
    .filter((s) => s.length > 0)
    .map(segment);
  const min = parts.reduce((n, s) => n + s.length, 0);
  return (v) => {
    if (v.length < min || !segmentAt(head, v, 0) || !segmentAt(tail, v, v.length - tail.text.length)) return false;
    let at = head.text.length;
    const end = v.length - tail.text.length;
    for (let i = 0; i < middle.length; i++) {
      const seg = middle[i]!;
      const found = findSegment(seg, v, at);
      if (found < 0 || found + seg.text.length > end) return false;
      at = found + seg.text.length;
    }
    return true;
  };
}

/** A list of patterns as one matcher: true when any pattern matches. */
export function compileAny(patterns: readonly string[], ignoreCase: boolean): Matcher {
  if (patterns.includes("*")) return always;
  const matchers = patterns.map((p) => compileWildcard(p, ignoreCase));
  if (matchers.length === 1) return matchers[0]!;
  return (v) => {
    for (let i = 0; i < matchers.length; i++) if (matchers[i]!(v)) return true;
    return false;
  };
}
