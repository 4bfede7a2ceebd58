import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

/** The console's session travels in this cookie; the API accepts it in place of a Bearer token. */
export const SESSION_COOKIE = "kiln_session";
/**
 * Unsafe calls authenticated by the cookie must carry this header. A cross-site form cannot set
 * it and a cross-site fetch that sets it needs a CORS preflight, which Kiln never answers.
 */
export const CONSOLE_HEADER = "x-kiln-console";

export function sessionFromCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/** `secure` when Kiln is reached over https (its public URL; a TLS proxy in front counts). */
export function setSessionCookie(c: Context, token: string, expiresAt: string, secure: boolean): void {
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    // Lax, so that a link to a build page from a git host or a mail opens signed in; changes need the header anyway.
    sameSite: "Lax",
    secure,
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}
