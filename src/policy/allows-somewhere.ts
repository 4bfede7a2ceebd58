import type { Policy } from "./types.ts";

/**
 * Whether any Allow statement names the action, whatever its resource and conditions. A console
 * uses it to decide whether to offer a form whose resource is not known yet (a new namespace's
 * name); the server still decides the real request.
 */
export function allowsSomewhere(policies: readonly Policy[], action: string): boolean {
  const lower = action.toLowerCase();
  return policies.some((p) => p.statements.some((s) => s.effect === "Allow" && s.action(lower) !== s.actionNegated));
}
