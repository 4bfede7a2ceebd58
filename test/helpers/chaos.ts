import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { expect } from "vitest";
import { ADMIN_TOKEN } from "./app.ts";
import { assertDockerEngine, BASE_IMAGE, ensureBaseImage } from "./docker.ts";
import { makeGitRepo } from "./git.ts";
import { startKilnProcess, type KilnProcess } from "./kiln-process.ts";
import { startRedis } from "./redis.ts";
import { waitUntil } from "./net.ts";

export const REPOSITORY = "alitest1/app";
const REPO_PATH = `/api/v1/regions/cn-hongkong/repositories/${REPOSITORY}`;
const ROOT_REGISTRY_PASSWORD = "Root-registry-chaos-1";

export interface BuildRow {
  id: string;
  status: string;
  stage: string | null;
  error: string | null;
  digest: string | null;
  tags: string[];
  queuedAt: string;
}

/**
 * The common start of a chaos case: account acme with a registry password for root, repository
 * alitest1/app, push user ci (push on alitest1/*), a real git repository bound to it with rules
 * main → latest and dev → dev.
 */
export async function seedChaos(kiln: KilnProcess) {
  const call = kiln.call;
  const created = await call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const root: string = created.body.rootToken;
  const ok = async (what: string, answer: Promise<{ status: number; body: unknown }>) => {
    const a = await answer;
    expect(a.status, `${what}: ${JSON.stringify(a.body)}`).toBeLessThan(300);
    return a;
  };
  await ok("namespace", call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } }));
  await ok(
    "repository",
    call("POST", "/api/v1/regions/cn-hongkong/repositories", {
      token: root,
      body: { namespace: "alitest1", name: "app" },
    }),
  );
  await ok("user", call("POST", "/api/v1/users", { token: root, body: { name: "ci" } }));
  await ok(
    "policy",
    call("POST", "/api/v1/policies", {
      token: root,
      body: {
        name: "ci-push",
        document: {
          Version: "1",
          Statement: [{ Effect: "Allow", Action: "cr:PushRepository", Resource: "acs:cr:*:*:repository/alitest1/*" }],
        },
      },
    }),
  );
  await ok("attach", call("POST", "/api/v1/users/ci/policies", { token: root, body: { policyName: "ci-push" } }));
  await ok(
    "root registry password",
    call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: ROOT_REGISTRY_PASSWORD } }),
  );
  const repo = makeGitRepo();
  writeFileSync(join(repo.dir, "Dockerfile"), `FROM ${BASE_IMAGE}\nRUN echo first > /marker\n`);
  repo.git("add", ".");
  repo.git("commit", "--quiet", "-m", "first");
  repo.git("branch", "dev");
  const bound = await ok(
    "binding",
    call("PUT", `${REPO_PATH}/source`, {
      token: root,
      body: { provider: "git", repoUrl: `file://${repo.dir}`, pushUser: "ci" },
    }),
  );
  const hook = bound.body as { webhookUrl: string; webhookSecret: string };
  for (const [source, tag] of [
    ["main", "latest"],
    ["dev", "dev"],
  ])
    await ok(
      "rule",
      call("POST", `${REPO_PATH}/build-rules`, { token: root, body: { sourceType: "branch", source, tags: [tag] } }),
    );

  /**
   * A new commit on `branch` whose one RUN step sleeps `seconds` and writes a marker no other
   * build writes (so each build has an image of its own, never cached); returns the commit.
   */
  function commit(branch: string, seconds: number): string {
    repo.git("checkout", "--quiet", branch);
    const marker = `${branch}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(
      join(repo.dir, "Dockerfile"),
      `FROM ${BASE_IMAGE}\nRUN sleep ${seconds} && echo ${marker} > /marker\n`,
    );
    repo.git("commit", "--quiet", "-am", marker);
    return repo.commit();
  }

  /** The push webhook for `branch` at `commit`; returns the ids of the builds it queued. */
  async function webhook(branch: string, commitSha: string): Promise<string[]> {
    const res = await fetch(hook.webhookUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${hook.webhookSecret}`, "content-type": "application/json" },
      body: JSON.stringify({ ref: `refs/heads/${branch}`, commit: commitSha }),
    });
    const answer = (await res.json()) as { outcome: string; builds: { id: string }[] };
    expect([res.status, answer.outcome], JSON.stringify(answer)).toEqual([202, "accepted"]);
    return answer.builds.map((b) => b.id);
  }

  const login = { username: "acme", password: ROOT_REGISTRY_PASSWORD };
  return { root, repo, hook, commit, webhook, login, secrets: [root, hook.webhookSecret, ROOT_REGISTRY_PASSWORD] };
}

export type Chaos = Awaited<ReturnType<typeof seedChaos>>;

/**
 * What a fault test stands on: the Docker engine with the busybox base, a Redis of its own
 * (`redisOptions`), Kiln as a process of its own (API and worker, `env` added), seeded by seedChaos.
 */
export async function startChaosStack(
  env: Record<string, string> = {},
  redisOptions?: Parameters<typeof startRedis>[0],
) {
  await assertDockerEngine();
  await ensureBaseImage();
  const redis = await startRedis(redisOptions);
  const kiln = await startKilnProcess({ redisUrl: redis.url, env });
  const chaos = await seedChaos(kiln);
  return { redis, kiln, chaos };
}

/** Every build of this Kiln, oldest first, read from its database (Kiln may be down). */
export function allBuilds(kiln: KilnProcess): BuildRow[] {
  return kiln
    .query<Omit<BuildRow, "tags"> & { tags: string }>(
      'select id, status, stage, error, digest, tags, queued_at as "queuedAt" from builds order by queued_at, id',
    )
    .map((b) => ({ ...b, tags: JSON.parse(b.tags) as string[] }));
}

/** The build's status, read from the database. */
export function statusOf(kiln: KilnProcess, id: string): BuildRow | undefined {
  return allBuilds(kiln).find((b) => b.id === id);
}

/**
 * Waits until no build is queued or running (every build ended), then returns them all. Gives up
 * at once when the Kiln process died by itself (nothing would end the builds then).
 */
export async function everyBuildEnded(kiln: KilnProcess, ms = 120_000): Promise<BuildRow[]> {
  const open = () => allBuilds(kiln).filter((b) => ["queued", "running"].includes(b.status));
  const until = Date.now() + ms;
  while (open().length > 0) {
    if (kiln.crashes.length > 0 || Date.now() > until)
      throw new Error(
        `${kiln.crashes.length ? kiln.crashes.join("; ") : `gave up after ${ms} ms`}: builds still open: ` +
          `${JSON.stringify(open())}\nkiln's output: ${kiln.output().slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
  return allBuilds(kiln);
}

/**
 * The registry's content agrees with the builds:
 * - each tag holds the image of the newest build of that tag (the registry's manifest digest for
 *   the tag is that build's digest), and that build succeeded;
 * - every succeeded build's digest was PUT exactly once for each of its tags, and the tag was PUT
 *   (successfully) as many times as builds of it succeeded: a tag pushed twice, or pushed by a
 *   build that did not succeed, fails here. Counted at the registry's door (the test's proxy);
 * - the registry's notifications, as Kiln recorded them, report the same pushes.
 */
export async function expectRegistryMatches(kiln: KilnProcess, chaos: Chaos, builds: BuildRow[]): Promise<void> {
  const tags = [...new Set(builds.flatMap((b) => b.tags))];
  const pushed = (tag: string) =>
    kiln.proxy.puts.filter((p) => p.repository === REPOSITORY && p.tag === tag && p.status === 201);
  for (const tag of tags) {
    const ofTag = builds.filter((b) => b.tags.includes(tag));
    const newest = ofTag[ofTag.length - 1]!;
    expect([newest.status, newest.error], `the newest build of ${tag} (${newest.id})`).toEqual(["succeeded", null]);
    expect(newest.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await kiln.manifestDigest(REPOSITORY, tag, chaos.login), `the registry's ${tag}`).toBe(newest.digest);

    const succeeded = ofTag.filter((b) => b.status === "succeeded");
    const puts = pushed(tag);
    expect(
      puts.map((p) => p.digest),
      `manifest PUTs of ${tag}: one per succeeded build, each of its own digest`,
    ).toEqual(succeeded.map((b) => b.digest));

    // The registry's notifications reach Kiln (it retries while Kiln is down): the same pushes.
    const notified = () =>
      kiln
        .query<{ digest: string }>(
          "select digest from registry_events where action = 'push' and repository = ? and tag = ? order by occurred_at",
          REPOSITORY,
          tag,
        )
        .map((e) => e.digest);
    await waitUntil(
      async () => notified().length >= puts.length,
      () => `notifications of ${tag}: ${JSON.stringify(notified())}, PUTs: ${JSON.stringify(puts)}`,
      30_000,
    );
    expect(notified(), `pushes of ${tag} as the registry notified them`).toEqual(puts.map((p) => p.digest));
    const listed = (
      await kiln.call("GET", `/api/v1/regions/cn-hongkong/repositories/${REPOSITORY}/tags`, {
        token: chaos.root,
      })
    ).body.tags as { tag: string; digest: string }[];
    expect(listed.find((t) => t.tag === tag)?.digest, `Kiln's tags API for ${tag}`).toBe(newest.digest);
  }
  // No tag of this repository that no build made.
  const all = new Set(
    kiln.proxy.puts.filter((p) => p.status === 201 && !p.tag.startsWith("sha256:")).map((p) => p.tag),
  );
  expect([...all].sort()).toEqual([...tags].filter((t) => pushed(t).length > 0).sort());
}

/** Waits until the build reports `stage` (fetch, build or push). */
export const atStage = (kiln: KilnProcess, id: string, stage: string) =>
  waitUntil(
    async () => statusOf(kiln, id)?.stage === stage,
    () => `build ${id} never reached ${stage}: ${JSON.stringify(statusOf(kiln, id))}\n${kiln.output().slice(-3000)}`,
    60_000,
  );

/** Empties the test's Redis, as a restart without persistence or a failover to an empty replica does. */
export async function flushAll(url: string): Promise<void> {
  const client = new Redis(url);
  try {
    expect(await client.flushall()).toBe("OK");
  } finally {
    client.disconnect();
  }
}
