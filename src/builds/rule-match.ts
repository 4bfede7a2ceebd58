import picomatch from "picomatch";
import type { RuleSourceType } from "../db/enums.ts";
import { renderTag, type Rendered } from "./tag-template.ts";

export interface RuleSpec {
  sourceType: RuleSourceType;
  /** An exact branch/tag name, or `/regex/` matched against the whole name. */
  source: string;
  tags: readonly string[];
  includePaths?: readonly string[];
  excludePaths?: readonly string[];
  enabled?: boolean;
}

export interface PushFacts {
  kind: RuleSourceType;
  name: string;
  commit: string;
  /** Files the push touched, when the provider says; undefined means unknown (no path filtering). */
  changedFiles?: readonly string[];
  headCommitMessage?: string;
}

export type RuleOutcome =
  { matched: true; tags: string[]; refused: Extract<Rendered, { ok: false }>[] } | { matched: false; reason: string };

const SKIP_MARKER = /\[(skip build|build skip)\]/i;

/** `/…/` compiled as a whole-name match; anything else is an exact name. Throws on a bad regex. */
export function compileSource(source: string): (name: string) => RegExpExecArray | null {
  if (source.length > 2 && source.startsWith("/") && source.endsWith("/")) {
    const regex = new RegExp(`^(?:${source.slice(1, -1)})$`);
    return (name) => regex.exec(name);
  }
  return (name) =>
    name === source ? (Object.assign([name], { index: 0, input: name, groups: undefined }) as RegExpExecArray) : null;
}

/** Does a push build this rule, and with which tags? Pure. */
export function matchRule(rule: RuleSpec, push: PushFacts): RuleOutcome {
  if (rule.enabled === false) return { matched: false, reason: "rule disabled" };
  if (rule.sourceType !== push.kind)
    return { matched: false, reason: `rule builds ${rule.sourceType}es, this is a ${push.kind}` };
  const m = compileSource(rule.source)(push.name);
  if (!m) return { matched: false, reason: `"${push.name}" does not match ${rule.source}` };
  if (push.headCommitMessage && SKIP_MARKER.test(push.headCommitMessage))
    return { matched: false, reason: "head commit message asks to skip the build" };
  if (push.changedFiles && push.changedFiles.length > 0) {
    if (rule.includePaths?.length) {
      const included = picomatch([...rule.includePaths], { dot: true });
      if (!push.changedFiles.some((f) => included(f)))
        return { matched: false, reason: "no changed file matches includePaths" };
    }
    if (rule.excludePaths?.length) {
      const excluded = picomatch([...rule.excludePaths], { dot: true });
      if (push.changedFiles.every((f) => excluded(f)))
        return { matched: false, reason: "every changed file matches excludePaths" };
    }
  }
  const tags: string[] = [];
  const refused: Extract<Rendered, { ok: false }>[] = [];
  for (const template of rule.tags) {
    const r = renderTag(template, { name: push.name, commit: push.commit, captures: [...m], groups: m.groups });
    if (r.ok) {
      if (!tags.includes(r.tag)) tags.push(r.tag);
    } else refused.push(r);
  }
  if (tags.length === 0) return { matched: false, reason: `no valid tag: ${refused.map((r) => r.reason).join("; ")}` };
  return { matched: true, tags, refused };
}
