/** Who is calling: an account's root, or one of its sub-accounts. */
export interface Principal {
  accountId: string;
  alias: string;
  kind: "root" | "user";
  userId?: number;
  userName?: string;
}

export function loginNameOf(p: Principal): string {
  return p.kind === "root" ? p.alias : `${p.userName}@${p.alias}`;
}

/** `alias` for root, `user@alias` for a sub-account. */
export function parseLoginName(loginName: string): { alias: string; userName?: string } {
  const at = loginName.lastIndexOf("@");
  if (at < 0) return { alias: loginName };
  return { alias: loginName.slice(at + 1), userName: loginName.slice(0, at) };
}
