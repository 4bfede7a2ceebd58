/** Pieces shorter than this would mask ordinary words; a secret that short protects nothing anyway. */
const MIN_MASKED = 4;

/**
 * A filter for build log lines that replaces every build secret's value with `****`, as hosted CI
 * does: a step that prints a secret (`cat /run/secrets/npmrc`) must not publish it in the log. A
 * multi-line value is masked line by line, since the log is written a line at a time.
 */
export function secretMasker(values: Iterable<string>): (line: string) => string {
  const pieces = [...new Set([...values].flatMap((v) => [v, ...v.split(/\r?\n/)]).map((p) => p.trim()))]
    .filter((p) => p.length >= MIN_MASKED)
    .sort((a, b) => b.length - a.length);
  if (pieces.length === 0) return (line) => line;
  return (line) => {
    let out = line;
    for (const piece of pieces) if (out.includes(piece)) out = out.split(piece).join("****");
    return out;
  };
}
