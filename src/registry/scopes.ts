/** Docker token scopes (`repository:ns/repo:pull,push`) and what each scope action means in RAM. */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export class ScopeError extends Error {
  override readonly name = "ScopeError";
}

/**
 * Each `scope` parameter may hold several space-separated scopes. The name may itself hold `:`
 * (a registry host with a port), so it runs from the first to the last `:`.
 */
export function parseScopes(values: readonly string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const value of values) {
    for (const text of value.split(" ").filter(Boolean)) {
      const first = text.indexOf(":");
      const last = text.lastIndexOf(":");
      if (first <= 0 || last === first) throw new ScopeError(`scope "${text}" is not type:name:actions`);
      const actions = text
        .slice(last + 1)
        .split(",")
        .filter(Boolean);
      scopes.push({ type: text.slice(0, first), name: text.slice(first + 1, last), actions: [...new Set(actions)] });
    }
  }
  return scopes;
}

/** The RAM action that each registry action needs. `*` and unknown actions map to nothing: never granted. */
export const SCOPE_ACTIONS: Readonly<Record<string, string>> = Object.freeze({
  pull: "cr:PullRepository",
  push: "cr:PushRepository",
  delete: "cr:DeleteRepositoryTag",
});

export function ramActionOf(scopeAction: string): string | undefined {
  return Object.hasOwn(SCOPE_ACTIONS, scopeAction) ? SCOPE_ACTIONS[scopeAction] : undefined;
}
