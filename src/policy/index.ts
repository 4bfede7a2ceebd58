export { PolicyError } from "./errors.ts";
export { parsePolicy } from "./parse.ts";
export { evaluate } from "./evaluate.ts";
export { allowsSomewhere } from "./allows-somewhere.ts";
export { OPERATORS, type RequestContext } from "./conditions.ts";
export { SYSTEM_POLICIES } from "./system-policies.ts";
export type * from "./types.ts";
