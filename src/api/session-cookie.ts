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

export function setSessionCookie(c: Context, token: string, expiresAt: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
}
