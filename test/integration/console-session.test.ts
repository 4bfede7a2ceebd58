import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.ts";

/** The console's cookie session and what the API asks of it (the pages themselves are driven in Chromium: test/e2e/console.test.ts). */
describe("console sessions: cookie sign-in, CSRF guard, logout, policy validation", () => {
  let t: TestApp;
  let root: string;
  let cookie: string;

  async function form(path: string, fields: Record<string, string>) {
    return t.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }

  beforeAll(async () => {
    t = await startTestApp();
    root = (await t.account("acme")).token;
    await t.call("POST", "/api/v1/users", { token: root, body: { name: "dev1", password: "Dev1-console-1" } });
  });
  afterAll(() => t.close());

  it("a page without a session sends the browser to the login page and back", async () => {
    const res = await t.app.request("/console/namespaces?x=1");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/login?next=%2Fconsole%2Fnamespaces%3Fx%3D1");
  });

  it("a wrong password re-renders the form with a reason and sets no cookie", async () => {
    const res = await form("/console/login", { loginName: "dev1@acme", password: "Wrong-pass-1" });
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("The login name or the password is wrong.");
  });

  it("a login sets an HttpOnly SameSite=Lax cookie, leads to the registry password first, and never redirects off the site", async () => {
    const res = await form("/console/login", {
      loginName: "dev1@acme",
      password: "Dev1-console-1",
      next: "//evil.example/x",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/console/me?next=${encodeURIComponent("/console/namespaces")}`);
    const setCookie = res.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^kiln_session=kss_[^;]+;/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    cookie = setCookie.split(";")[0]!;
    const page = await t.app.request("/console/me", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-testid="must-set-registry-password"');
  });

  it("the API reads the cookie, but a cookie-signed change without the console header is refused as CSRF", async () => {
    expect((await t.call("GET", "/api/v1/me", { headers: { cookie } })).body).toMatchObject({ loginName: "dev1@acme" });
    const forged = await t.call("PUT", "/api/v1/me/registry-password", {
      headers: { cookie },
      body: { password: "Forged-pass-1" },
    });
    expect(forged.status).toBe(403);
    expect(forged.body.error).toBe("CsrfRejected");
    expect(
      (await t.call("GET", "/api/v1/me", { headers: { cookie } })).body.hasRegistryPassword,
      "the forged call changed nothing",
    ).toBe(false);
    const real = await t.call("PUT", "/api/v1/me/registry-password", {
      headers: { cookie, "x-kiln-console": "1" },
      body: { password: "Dev1-registry-1" },
    });
    expect(real.status).toBe(200);
  });

  it("the policy editor's check names the bad element, and accepts a good document", async () => {
    const headers = { cookie, "x-kiln-console": "1" };
    const bad = await t.call("POST", "/api/v1/policies/validate", {
      headers,
      body: {
        document: {
          Version: "1",
          Statement: [
            {
              Effect: "Allow",
              Action: "cr:*",
              Resource: "*",
              Condition: { IpAddres: { "acs:SourceIp": "10.0.0.0/8" } },
            },
          ],
        },
      },
    });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ valid: false, path: "Statement[0].Condition.IpAddres" });
    expect(bad.body.message).toMatch(/^Statement\[0\]\.Condition\.IpAddres: /);
    const good = await t.call("POST", "/api/v1/policies/validate", {
      headers,
      body: { document: { Version: "1", Statement: [{ Effect: "Deny", Action: "cr:*", Resource: "*" }] } },
    });
    expect(good.body).toEqual({ valid: true, statements: 1 });
    expect(
      (await t.call("POST", "/api/v1/policies/validate", { body: { document: {} } })).status,
      "signed-in callers only",
    ).toBe(401);
  });

  it("logout ends the session for the API too; an access key is not a session and survives the call", async () => {
    const res = await t.app.request("/console/logout", { method: "POST", headers: { cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/login");
    expect(res.headers.get("set-cookie")).toMatch(/kiln_session=;.*Max-Age=0/);
    expect((await t.call("GET", "/api/v1/me", { headers: { cookie } })).status).toBe(401);
    const key = (await t.call("POST", "/api/v1/users/dev1/access-keys", { token: root })).body.token;
    expect((await t.call("DELETE", "/api/v1/sessions/current", { token: key })).body).toEqual({ revoked: false });
    expect((await t.call("GET", "/api/v1/me", { token: key })).status).toBe(200);
  });

  it("what users write is shown as text, never as markup", async () => {
    await t.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    const summary = '<img src=x onerror="alert(1)">';
    expect(
      (
        await t.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
          token: root,
          body: { namespace: "alitest1", name: "app", summary },
        })
      ).status,
    ).toBe(201);
    await t.call("PUT", "/api/v1/me/password", { token: root, body: { password: "Root-console-1" } });
    await t.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: "Root-registry-1" } });
    const login = await form("/console/login", { loginName: "acme", password: "Root-console-1" });
    const rootCookie = login.headers.get("set-cookie")!.split(";")[0]!;
    for (const path of [
      "/console/regions/cn-hongkong/repositories",
      "/console/regions/cn-hongkong/repositories/alitest1/app",
    ]) {
      const html = await (await t.app.request(path, { headers: { cookie: rootCookie } })).text();
      expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
      expect(html).not.toContain("<img");
    }
  });

  it("the console's script and style are served by Kiln itself", async () => {
    for (const [file, type] of [
      ["console.js", "text/javascript"],
      ["console.css", "text/css"],
    ]) {
      const res = await t.app.request(`/console/assets/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
    }
    expect((await t.app.request("/console/assets/../../package.json")).status).toBe(404);
  });
});
