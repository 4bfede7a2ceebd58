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

export type { Logger };
