/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { Deps } from "../api/env.ts";
import { clearSessionCookie, sessionFromCookie, setSessionCookie } from "../api/session-cookie.ts";
import { consoleApi } from "./api-client.ts";
import { serveAssets } from "./assets.ts";
import { GroupsPage } from "./pages/access/groups.tsx";
import { PoliciesPage } from "./pages/access/policies.tsx";
import { SimulatorPage } from "./pages/access/simulator.tsx";
import { UserPage, UsersPage } from "./pages/access/users.tsx";
import { BuildPage } from "./pages/build.tsx";
import { LoginPage } from "./pages/login.tsx";
import { MePage } from "./pages/me.tsx";
import { NamespacesPage } from "./pages/namespaces.tsx";
import { RepositoriesPage } from "./pages/repositories.tsx";
import { RepositoryPage } from "./pages/repository/page.tsx";
import { signedIn, type ConsoleEnv } from "./session.ts";

/** Only a path on this site: `next` must not send a fresh login to another host. */
function localPath(next: string | undefined): string | undefined {
  return next && next.startsWith("/console") && !next.startsWith("//") ? next : undefined;
}

/**
 * The web console, mounted at /console: pages rendered on the server from the API's own answers
 * (`api` is the app whose routes they call), and a small script for forms, the policy editor and
 * the live build log.
 */
export function consoleApp(deps: Deps, api: Hono<any>): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  serveAssets(app);

  app.get("/login", (c) => c.html(<LoginPage next={localPath(c.req.query("next"))} />));

  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const loginName = String(form.loginName ?? "");
    const next = localPath(String(form.next ?? ""));
    const answer = await consoleApi(api, c, undefined).send<{
      token: string;
      expiresAt: string;
      mustSetRegistryPassword: boolean;
    }>("POST", "/api/v1/sessions", {
      loginName,
      password: String(form.password ?? ""),
    });
    if (!answer.ok) {
      const message = answer.status === 401 ? "The login name or the password is wrong." : answer.error.message;
      return c.html(<LoginPage next={next} loginName={loginName} error={message} />, answer.status === 429 ? 429 : 401);
    }
    const secure = new URL(c.req.url).protocol === "https:" || deps.config.publicUrl.startsWith("https:");
    setSessionCookie(c, answer.data.token, answer.data.expiresAt, secure);
    const after = next ?? "/console/namespaces";
    return c.redirect(
      answer.data.mustSetRegistryPassword ? `/console/me?next=${encodeURIComponent(after)}` : after,
      303,
    );
  });

  app.post("/logout", async (c) => {
    const token = sessionFromCookie(c);
    if (token) await consoleApi(api, c, token).send("DELETE", "/api/v1/sessions/current");
    clearSessionCookie(c);
    return c.redirect("/console/login", 303);
  });

  app.use("*", signedIn(deps, api));
  app.get("/", (c) => c.redirect("/console/namespaces", 303));
  app.get("/me", async (c) =>
    c.html(await MePage({ session: c.get("session"), next: localPath(c.req.query("next")) })),
  );
  app.get("/namespaces", async (c) => c.html(await NamespacesPage({ session: c.get("session") })));
  app.get("/regions/:region/repositories", async (c) =>
    c.html(
      await RepositoriesPage({
        session: c.get("session"),
        region: c.req.param("region"),
        namespace: c.req.query("namespace") || undefined,
      }),
    ),
  );
  app.get("/regions/:region/repositories/:ns/:repo", async (c) =>
    c.html(await RepositoryPage({ session: c.get("session"), at: c.req.param() })),
  );
  app.get("/builds/:id", async (c) => c.html(await BuildPage({ session: c.get("session"), id: c.req.param("id") })));
  app.get("/access", (c) => c.redirect("/console/access/users", 303));
  app.get("/access/users", async (c) => c.html(await UsersPage({ session: c.get("session") })));
  app.get("/access/users/:name", async (c) =>
    c.html(await UserPage({ session: c.get("session"), name: c.req.param("name") })),
  );
  app.get("/access/groups", async (c) => c.html(await GroupsPage({ session: c.get("session") })));
  app.get("/access/policies", async (c) => c.html(await PoliciesPage({ session: c.get("session") })));
  app.get("/access/simulator", async (c) => c.html(await SimulatorPage({ session: c.get("session") })));
  return app;
}
