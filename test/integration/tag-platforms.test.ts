import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows as rowsOf } from "../../src/db/connection.ts";
import { ADMIN_TOKEN } from "../helpers/app.ts";
import { assertDockerEngine, BASE_IMAGE, docker, ensureBaseImage } from "../helpers/docker.ts";
import { startKilnWithRegistries } from "../helpers/server.ts";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const PASSWORD = "Root-registry-1";

interface TagView {
  tag: string;
  digest: string;
  mediaType: string | null;
  platforms: string[] | null;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * The registry notification sink with a real distribution registry: each tagged push records the
 * platforms the registry holds under the tag (an image's one, an index's several); a manifest
 * pushed by digest (as the worker pushes each platform's image) makes no tag.
 */
describe("the platforms of a pushed tag (real registry)", () => {
  let kiln: Awaited<ReturnType<typeof startKilnWithRegistries>>;
  let root: string;
  let registry: string;

  const tagsOf = async (repo: string): Promise<TagView[]> =>
    (await kiln.call("GET", `/api/v1/regions/cn-hongkong/repositories/alitest1/${repo}/tags`, { token: root })).body
      .tags;
  /** Notifications arrive after the push: waits for the tag. */
  async function waitForTag(repo: string, tag: string): Promise<TagView[]> {
    for (let i = 0; i < 100; i++) {
      const tags = await tagsOf(repo);
      if (tags.some((t) => t.tag === tag)) return tags;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`tag ${repo}:${tag} never showed; registry log:\n${kiln.registryLogs["cn-hongkong"]}`);
  }

  /** The registry's HTTP API with a push token that Kiln's token service gives root. */
  async function registryApi(repo: string) {
    const url = new URL(`${kiln.base}/auth/token`);
    url.searchParams.set("service", "cn-hongkong");
    url.searchParams.set("scope", `repository:alitest1/${repo}:pull,push`);
    const answer = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`acme:${PASSWORD}`).toString("base64")}` },
    });
    expect(answer.status).toBe(200);
    const auth = { authorization: `Bearer ${((await answer.json()) as { token: string }).token}` };
    const base = `http://${registry}/v2/alitest1/${repo}`;
    return {
      async blob(bytes: Buffer): Promise<{ digest: string; size: number }> {
        const digest = sha256(bytes);
        const started = await fetch(`${base}/blobs/uploads/`, { method: "POST", headers: auth });
        expect(started.status).toBe(202);
        const location = new URL(started.headers.get("location")!, `http://${registry}`);
        location.searchParams.set("digest", digest);
        const put = await fetch(location, {
          method: "PUT",
          headers: { ...auth, "content-type": "application/octet-stream" },
          body: bytes,
        });
        expect(put.status, await put.text()).toBe(201);
        return { digest, size: bytes.length };
      },
      async manifest(reference: string, mediaType: string, document: unknown) {
        const bytes = Buffer.from(JSON.stringify(document));
        const put = await fetch(`${base}/manifests/${reference}`, {
          method: "PUT",
          headers: { ...auth, "content-type": mediaType },
          body: bytes,
        });
        expect(put.status, await put.text()).toBe(201);
        return { mediaType, digest: sha256(bytes), size: bytes.length };
      },
    };
  }

  beforeAll(async () => {
    await assertDockerEngine();
    await ensureBaseImage();
    kiln = await startKilnWithRegistries(["cn-hongkong"]);
    registry = kiln.registryOf("cn-hongkong");
    root = (await kiln.call("POST", "/api/v1/accounts", { token: ADMIN_TOKEN, body: { alias: "acme" } })).body
      .rootToken;
    await kiln.call("POST", "/api/v1/namespaces", { token: root, body: { name: "alitest1" } });
    for (const name of ["single", "multi", "missing"])
      expect(
        (
          await kiln.call("POST", "/api/v1/regions/cn-hongkong/repositories", {
            token: root,
            body: { namespace: "alitest1", name },
          })
        ).status,
      ).toBe(201);
    await kiln.call("PUT", "/api/v1/me/registry-password", { token: root, body: { password: PASSWORD } });
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  it("docker push of a single-platform image: the tag holds linux/amd64", async () => {
    const home = mkdtempSync(join(tmpdir(), "kiln-docker-config-"));
    const login = await docker(["login", registry, "-u", "acme", "--password-stdin"], {
      configDir: home,
      input: `${PASSWORD}\n`,
    });
    expect(login.status, login.stderr).toBe(0);
    const image = `${registry}/alitest1/single:1.0`;
    expect((await docker(["tag", BASE_IMAGE, image])).status).toBe(0);
    const pushed = await docker(["push", image], { configDir: home });
    expect(pushed.status, pushed.stderr).toBe(0);
    await docker(["rmi", image]);
    const tags = await waitForTag("single", "1.0");
    expect(tags).toEqual([expect.objectContaining({ tag: "1.0", platforms: ["linux/amd64"] })]);
  }, 120_000);

  it("an OCI index of an amd64 and an arm64 image: one tag row holding both, none for the images pushed by digest", async () => {
    const api = await registryApi("multi");
    const layer = await api.blob(gzipSync(Buffer.alloc(1024)));
    const images = [];
    for (const architecture of ["arm64", "amd64"]) {
      const config = await api.blob(
        Buffer.from(
          JSON.stringify({
            architecture,
            os: "linux",
            config: {},
            rootfs: { type: "layers", diff_ids: [sha256(Buffer.alloc(1024))] },
          }),
        ),
      );
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
      };
      const digest = sha256(Buffer.from(JSON.stringify(manifest)));
      images.push({ ...(await api.manifest(digest, OCI_MANIFEST, manifest)), platform: { architecture, os: "linux" } });
    }
    const index = await api.manifest("2.0", OCI_INDEX, {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images,
    });

    const tags = await waitForTag("multi", "2.0");
    expect(tags).toEqual([
      expect.objectContaining({
        tag: "2.0",
        digest: index.digest,
        mediaType: OCI_INDEX,
        platforms: ["linux/amd64", "linux/arm64"],
      }),
    ]);
    // The registry notified the pushes by digest too (before the index: one endpoint, in order),
    // and Kiln recorded them as events without making a tag of them.
    const byDigest = await rowsOf<{ digest: string }>(
      kiln.deps.db,
      sql`select digest from registry_events where repository = 'alitest1/multi' and action = 'push' and tag is null`,
    );
    expect(byDigest.map((e) => e.digest).sort()).toEqual(images.map((i) => i.digest).sort());
    const rows = await rowsOf(
      kiln.deps.db,
      sql`select tag from tags join repositories r on r.id = tags.repository_id where r.name = 'multi' order by tag`,
    );
    expect(rows).toEqual([{ tag: "2.0" }]);
  });

  it("the console's tag list shows the platforms", async () => {
    await kiln.call("PUT", "/api/v1/me/password", { token: root, body: { password: "Root-console-1" } });
    const login = await fetch(`${kiln.base}/console/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ loginName: "acme", password: "Root-console-1" }).toString(),
      redirect: "manual",
    });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await (
      await fetch(`${kiln.base}/console/regions/cn-hongkong/repositories/alitest1/multi`, { headers: { cookie } })
    ).text();
    expect(html).toMatch(/<tr data-tag="2\.0">.*<td data-testid="tag-platforms">linux\/amd64, linux\/arm64<\/td>/s);
  });

  it("a tag whose manifest the registry cannot give is recorded with platforms null", async () => {
    const answer = await kiln.call("POST", "/registry/events", {
      token: kiln.config.registryEventsToken,
      headers: { "x-kiln-region": "cn-hongkong" },
      body: {
        events: [
          {
            id: "gone-1",
            timestamp: new Date().toISOString(),
            action: "push",
            target: {
              mediaType: OCI_MANIFEST,
              repository: "alitest1/missing",
              tag: "x",
              digest: `sha256:${"0".repeat(64)}`,
            },
          },
        ],
      },
    });
    expect(answer.status).toBe(200);
    expect(await tagsOf("missing")).toEqual([expect.objectContaining({ tag: "x", platforms: null })]);
  });
});
