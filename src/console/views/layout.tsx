/** @jsxImportSource hono/jsx */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { ConsoleSession } from "../session.ts";

export interface PageProps {
  title: string;
  session?: ConsoleSession;
  /** Which top-level section to mark as current. */
  section?: "namespaces" | "repositories" | "access";
  children?: Child;
}

export function Page({ title, session, section, children }: PageProps) {
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${title} · Kiln`}</title>
          <link rel="icon" href="data:," />
          <link rel="stylesheet" href="/console/assets/console.css" />
          <script type="module" src="/console/assets/console.js"></script>
        </head>
        <body>
          <header class="topbar">
            <a class="brand" href="/console">
              Kiln
            </a>
            {session && <Nav session={session} section={section} />}
          </header>
          <main>{children}</main>
        </body>
      </html>
    </>
  );
}

function Nav({ session, section }: { session: ConsoleSession; section?: PageProps["section"] }) {
  const link = (id: NonNullable<PageProps["section"]>, href: string, label: string) => (
    <a href={href} class={section === id ? "current" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <nav class="sections">
        {link("namespaces", "/console/namespaces", "Namespaces")}
        {link("repositories", `/console/regions/${session.defaultRegion}/repositories`, "Repositories")}
        {session.can("GET /api/v1/users") && link("access", "/console/access/users", "Access control")}
      </nav>
      <form class="whoami" method="post" action="/console/logout">
        <span data-testid="login-name">{session.loginName}</span>
        <a href="/console/me">Passwords</a>
        <button type="submit" class="link">
          Log out
        </button>
      </form>
    </>
  );
}
