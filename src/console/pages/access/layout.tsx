/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { ConsoleSession } from "../../session.ts";
import { Page } from "../../views/layout.tsx";

export type Tab = "users" | "groups" | "policies" | "simulator";

export function AccessPage({ session, tab, children }: { session: ConsoleSession; tab: Tab; children: Child }) {
  const tabs: [Tab, string][] = [
    ["users", "Users"],
    ["groups", "Groups"],
    ["policies", "Policies"],
    ["simulator", "Simulator"],
  ];
  return (
    <Page title="Access control" session={session} section="access">
      <h1>Access control</h1>
      <nav class="tabs">
        {tabs.map(([id, label]) => (
          <a href={`/console/access/${id}`} class={id === tab ? "current" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {children}
    </Page>
  );
}
