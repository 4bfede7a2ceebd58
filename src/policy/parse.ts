import { compileCondition, OPERATORS, operatorSpec } from "./conditions.ts";
import { PolicyError } from "./errors.ts";
import { ActionIndex, literalRuns, type StatementIndex } from "./statement-index.ts";
import type { CompiledStatement, Policy, PolicyDocument, StatementDocument } from "./types.ts";
import { compileAny } from "./wildcard.ts";

const DOCUMENT_KEYS = new Set(["Version", "Statement"]);
const STATEMENT_KEYS = new Set(["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]);
const ACTION = /^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]*)$/;
const MAX_PATTERN_LENGTH = 1024;

type Json = Record<string, unknown>;

/**
 * Validates a RAM policy document and compiles it for evaluation.
 * Accepts the parsed object or its JSON text. Throws PolicyError naming the offending element.
 */
export function parsePolicy(doc: unknown, options: { name?: string } = {}): Policy {
  const root = typeof doc === "string" ? parseJson(doc) : doc;
  const document = validateDocument(root);
  const statements = document.Statement.map(compileStatement);
  return { name: options.name, document, statements, statementsFor: actionIndex(statements, options.name) };
}

/** Callers ask about a few dozen actions; the cap only guards against arbitrary names from simulations. */
const ACTION_INDEX_LIMIT = 256;

function actionIndex(statements: readonly CompiledStatement[], name: string | undefined): Policy["statementsFor"] {
  const byAction = new Map<string, StatementIndex>();
  return (action) => {
    let hit = byAction.get(action);
    if (hit === undefined) {
      const applicable = statements.filter((s) => s.action(action) !== s.actionNegated);
      hit = new ActionIndex(
        applicable,
        applicable.map(() => name),
      );
      if (byAction.size >= ACTION_INDEX_LIMIT) byAction.clear();
      byAction.set(action, hit);
    }
    return hit;
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PolicyError("", `not valid JSON (${(err as Error).message})`);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rejectUnknownKeys(obj: Json, allowed: Set<string>, path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      const hint = [...allowed].find((k) => k.toLowerCase() === key.toLowerCase());
      throw new PolicyError(join(path, key), hint ? `unknown element (did you mean "${hint}"?)` : "unknown element");
    }
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function validateDocument(root: unknown): PolicyDocument {
  if (!isObject(root)) throw new PolicyError("", "a policy document must be a JSON object");
  rejectUnknownKeys(root, DOCUMENT_KEYS, "");
  if (!("Version" in root)) throw new PolicyError("Version", "is required");
  if (root.Version !== "1") throw new PolicyError("Version", `must be "1", got ${JSON.stringify(root.Version)}`);
  const rawStatements = root.Statement;
  if (rawStatements === undefined) throw new PolicyError("Statement", "is required");
  const list = isObject(rawStatements) ? [rawStatements] : rawStatements;
  if (!Array.isArray(list)) throw new PolicyError("Statement", "must be an array of statements");
  if (list.length === 0) throw new PolicyError("Statement", "must hold at least one statement");
  return { Version: "1", Statement: list.map((s, i) => validateStatement(s, `Statement[${i}]`)) };
}

function validateStatement(raw: unknown, path: string): StatementDocument {
  if (!isObject(raw)) throw new PolicyError(path, "a statement must be a JSON object");
  rejectUnknownKeys(raw, STATEMENT_KEYS, path);
  const out: StatementDocument = { Effect: validateEffect(raw.Effect, join(path, "Effect")) };
  if (raw.Sid !== undefined) {
    if (typeof raw.Sid !== "string") throw new PolicyError(join(path, "Sid"), "must be a string");
    out.Sid = raw.Sid;
  }
  const [actionKey, actions] = exactlyOne(raw, "Action", "NotAction", path);
  actions.forEach((a, i) => {
    if (!ACTION.test(a))
      throw new PolicyError(
        itemPath(path, actionKey, i, actions),
        `"${a}" is not an action (service:Name, wildcards allowed)`,
      );
  });
  out[actionKey] = actions;
  const [resourceKey, resources] = exactlyOne(raw, "Resource", "NotResource", path);
  out[resourceKey] = resources;
  if (raw.Condition !== undefined) out.Condition = validateCondition(raw.Condition, join(path, "Condition"));
  return out;
}

function validateEffect(v: unknown, path: string): "Allow" | "Deny" {
  if (v === undefined) throw new PolicyError(path, "is required");
  if (v !== "Allow" && v !== "Deny") throw new PolicyError(path, `must be "Allow" or "Deny", got ${JSON.stringify(v)}`);
  return v;
}

function exactlyOne<K extends string>(raw: Json, a: K, b: K, path: string): [K, string[]] {
  const hasA = raw[a] !== undefined;
  const hasB = raw[b] !== undefined;
  if (hasA && hasB) throw new PolicyError(join(path, b), `a statement takes ${a} or ${b}, not both`);
  if (!hasA && !hasB) throw new PolicyError(join(path, a), `is required (or ${b})`);
  const key = hasA ? a : b;
  return [key, stringList(raw[key], join(path, key))];
}

function stringList(v: unknown, path: string): string[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) throw new PolicyError(path, "must be a string or an array of strings");
  if (list.length === 0) throw new PolicyError(path, "must not be empty");
  return list.map((item, i) => {
    const p = Array.isArray(v) ? `${path}[${i}]` : path;
    if (typeof item !== "string") throw new PolicyError(p, "must be a string");
    if (item.length === 0) throw new PolicyError(p, "must not be empty");
    if (item.length > MAX_PATTERN_LENGTH) throw new PolicyError(p, `longer than ${MAX_PATTERN_LENGTH} characters`);
    return item;
  });
}

function itemPath(path: string, key: string, i: number, all: string[]): string {
  return all.length > 1 ? `${path}.${key}[${i}]` : `${path}.${key}`;
}

function validateCondition(v: unknown, path: string): Record<string, Record<string, string[]>> {
  if (!isObject(v)) throw new PolicyError(path, "must be an object of operators");
  const out: Record<string, Record<string, string[]>> = Object.create(null);
  for (const [operator, block] of Object.entries(v)) {
    const opPath = join(path, operator);
    if (!operatorSpec(operator)) {
      const hint = Object.keys(OPERATORS).find((o) => o.toLowerCase() === operator.toLowerCase());
      throw new PolicyError(
        opPath,
        hint ? `unknown condition operator (did you mean "${hint}"?)` : "unknown condition operator",
      );
    }
    if (!isObject(block)) throw new PolicyError(opPath, "must be an object of condition keys");
    if (Object.keys(block).length === 0) throw new PolicyError(opPath, "must hold at least one condition key");
    // fromEntries defines own properties, so a key named "__proto__" stays a key.
    out[operator] = Object.fromEntries(
      Object.entries(block).map(([key, values]) => {
        if (key.length === 0) throw new PolicyError(opPath, "a condition key must not be empty");
        return [key, conditionValues(values, join(opPath, key))];
      }),
    );
  }
  return out;
}

function conditionValues(v: unknown, path: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new PolicyError(path, "must not be empty");
  return list.map((item, i) => {
    const p = Array.isArray(v) ? `${path}[${i}]` : path;
    if (typeof item === "string") return item;
    if (typeof item === "number" && Number.isFinite(item)) return String(item);
    if (typeof item === "boolean") return String(item);
    throw new PolicyError(p, "must be a string, number or boolean");
  });
}

function compileStatement(s: StatementDocument, index: number): CompiledStatement {
  const path = `Statement[${index}]`;
  const conditions = Object.entries(s.Condition ?? {}).flatMap(([operator, block]) =>
    Object.entries(block).map(([key, values]) =>
      compileCondition(operator, key, values, `${path}.Condition.${operator}`),
    ),
  );
  return {
    index,
    sid: s.Sid,
    effect: s.Effect,
    action: compileAny((s.Action ?? s.NotAction)!, true),
    actionNegated: s.Action === undefined,
    resource: compileAny((s.Resource ?? s.NotResource)!, false),
    resourceNegated: s.Resource === undefined,
    resourcePatterns: (s.Resource ?? s.NotResource)!,
    resourceRuns: (s.Resource ?? s.NotResource)!.map(literalRuns),
    conditions,
  };
}
