import { pino } from "pino";
import { expect } from "vitest";
import { createLogger, type Logger } from "../../src/logger.ts";

/**
 * Kiln's own service logger (createLogger: its level handling, redaction and serializers), at
 * `info`, writing into memory instead of stdout, so that a test can search what the service logged.
 * Only the destination changes: pino keeps it under `symbols.streamSym`, and every child logger
 * created afterwards inherits it.
 */
export function captureLogs(level = "info"): { log: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const log = createLogger(level);
  (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = {
    write(chunk: string) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(line);
      return true;
    },
  };
  return { log, lines, text: () => lines.join("\n") };
}

/**
 * Asserts that no captured line holds any of the secrets, in clear or as it would be encoded in a
 * header (base64 of the secret, or of `user:secret`), and no build credential (`kbld.`). Also
 * asserts that something was captured at all, so that a logger that lost its stream cannot pass.
 */
export function expectNoSecretIn(
  lines: string[],
  secrets: (string | undefined)[],
  options: { users?: string[]; minLines?: number } = {},
): void {
  expect(lines.length, "the service logged at info (the capture works)").toBeGreaterThanOrEqual(options.minLines ?? 1);
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    expect(secret.length, `a secret this short (${secret.length}) would match by chance`).toBeGreaterThanOrEqual(8);
    forms.add(secret);
    forms.add(Buffer.from(secret).toString("base64"));
    forms.add(encodeURIComponent(secret));
    for (const user of options.users ?? []) forms.add(Buffer.from(`${user}:${secret}`).toString("base64"));
  }
  for (const line of lines) {
    expect(line, "a build credential in the service log").not.toContain("kbld.");
    for (const form of forms) expect(line.includes(form), `a secret in the service log: ${line}`).toBe(false);
  }
}
