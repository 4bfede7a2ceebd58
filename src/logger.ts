import { pino, type Logger } from "pino";

/** Paths redacted wherever they appear in a log object: secrets never reach the log. */
const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "rootToken",
  "*.rootToken",
  "secret",
  "*.secret",
  "webhookSecret",
  "*.webhookSecret",
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "credentials",
  "*.credentials",
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: "[redacted]" }, base: { service: "kiln" } });
}

/** An error's text as it may be logged: no credentials in URLs, no bearer or JWT-shaped tokens. */
export function redactText(text: string): string {
  return text
    .replace(/\/\/[^\s/@]*@/g, "//***@")
    .replace(/(Bearer|Basic)\s+\S+/gi, "$1 ***")
    .replace(/\b(k(?:bld|tmp|ref)\.)?eyJ[\w-]*\.[\w-]*\.[\w-]*/g, "[token]");
}

/**
 * A promise rejected with no handler is logged and contained instead of ending the process
 * (Node's default): with KILN_ROLE=all a fault in the worker never takes the API down.
 */
export function containUnhandledRejections(log: Logger): void {
  process.on("unhandledRejection", (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    const frames = (err.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    log.error(
      { err: { name: err.name, message: redactText(err.message), stack: frames.slice(0, 8).join("\n") } },
      "unhandled promise rejection (contained: the process goes on)",
    );
  });
}

export type { Logger };
