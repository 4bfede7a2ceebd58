import { TAG } from "../names.ts";

/** What a tag template can refer to: the ref, the rule's regex captures and the commit. */
export interface TemplateContext {
  /** Branch or tag name, e.g. `release/v1.2`. */
  name: string;
  commit: string;
  /** Positional captures of the rule's regex: index 1 is `{\1}`. */
  captures?: readonly (string | undefined)[];
  groups?: Readonly<Record<string, string | undefined>>;
}

export type Rendered = { ok: true; tag: string } | { ok: false; template: string; reason: string };

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders a template may use; validated when a rule is saved. */
export function templateError(template: string): string | undefined {
  if (template.length === 0 || template.length > 256) return "must be 1–256 characters";
  for (const [, key] of template.matchAll(PLACEHOLDER)) {
    if (!/^(sourceref|commit|shortsha|semver\.(major|minor|patch)|\\[1-9]|[A-Za-z_][A-Za-z0-9_]*)$/.test(key!))
      return `unknown placeholder {${key}}`;
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ""))) return "unbalanced braces";
  return undefined;
}

/** Characters a tag cannot hold become `-`; a tag is at most 128 characters. */
function sanitise(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 128);
}

/**
 * Renders one template: `{sourceref}` (the name, `/` → `-`), `{\1}`…`{\9}`, `{name}` of a named
 * group, `{commit}`, `{shortsha}`, `{semver.major|minor|patch}`. A placeholder with no value, or
 * a result that is no valid tag after sanitising, is refused with a reason.
 */
export function renderTag(template: string, ctx: TemplateContext): Rendered {
  const semver = SEMVER.exec(ctx.name);
  let missing: string | undefined;
  const raw = template.replace(PLACEHOLDER, (_m, key: string) => {
    let value: string | undefined;
    if (key === "sourceref") value = ctx.name.replaceAll("/", "-");
    else if (key === "commit") value = ctx.commit;
    else if (key === "shortsha") value = ctx.commit.slice(0, 7);
    else if (key.startsWith("semver."))
      value = semver?.[{ "semver.major": 1, "semver.minor": 2, "semver.patch": 3 }[key] ?? 0];
    else if (/^\\[1-9]$/.test(key)) value = ctx.captures?.[Number(key.slice(1))];
    else value = ctx.groups?.[key];
    if (value === undefined || value === "") missing ??= `{${key}} has no value for "${ctx.name}"`;
    return value ?? "";
  });
  if (missing) return { ok: false, template, reason: missing };
  const tag = sanitise(raw);
  if (!TAG.test(tag)) return { ok: false, template, reason: `"${raw}" is not a valid tag even after sanitising` };
  return { ok: true, tag };
}
