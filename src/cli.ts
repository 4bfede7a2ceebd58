import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config.ts";
import { BackupError, backupDatabase, DATABASE_FILE, FILES_THAT_TRAVEL } from "./db/backup.ts";
import { closeDatabase, openDatabase } from "./db/connection.ts";
import { MigrateDataError, migrateData, redactUrl } from "./db/migrate-data.ts";
import { createAccount } from "./iam/accounts.ts";
import { aliasSchema, passwordSchema } from "./names.ts";
import { parsePolicy, evaluate, PolicyError } from "./policy/index.ts";
import { DomainError } from "./errors.ts";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadSigningKeys } from "./registry/keys.ts";
import { registryConfig } from "./registry/registry-config.ts";

const USAGE = `usage:
  kiln account create <alias> [--password <console password>]
      creates a main account and prints its id and root token (shown once)
  kiln policy check <file.json>
      validates a policy document; names the offending element
  kiln policy simulate <file.json> --action <cr:Action> --resource <arn> [--context '{"k":"v"}']
      evaluates a policy document against one request
  kiln registry config [--region <id>]
      prints the distribution registry configuration for a region (token auth and notifications to Kiln)
  kiln registry write-configs [--listen <host>] [--events-url <url>]
      writes $KILN_DATA_DIR/registry-<region>.yml for every region; prints "region file address" lines
  kiln backup <file>
      copies the database into <file> while Kiln runs (an online SQLite backup); see the README to restore
  kiln migrate-data --from sqlite:<file> --to postgres://user:password@host:port/db
      copies a SQLite database (the data dir's kiln.db, one consistent snapshot) into a new PostgreSQL
      database in one transaction; prints the rows per table. Later writes are not copied: stop the API
  kiln admin-token
      prints where the admin token is kept`;

function fail(message: string, code = 2): never {
  console.error(`kiln: ${message}`);
  process.exit(code);
}

async function run(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      password: { type: "string" },
      action: { type: "string" },
      resource: { type: "string" },
      context: { type: "string" },
      region: { type: "string" },
      listen: { type: "string" },
      "events-url": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [noun, verb, arg] = positionals;
  if (values.help || !noun) return void console.log(USAGE);

  if (noun === "account" && verb === "create") {
    const alias = aliasSchema.safeParse(arg);
    if (!alias.success) fail(`alias: ${alias.error.issues[0]!.message}`);
    if (values.password !== undefined) {
      const pw = passwordSchema.safeParse(values.password);
      if (!pw.success) fail(`password: ${pw.error.issues[0]!.message}`);
    }
    const config = loadConfig();
    const db = await openDatabase(config.dataDir, { url: config.databaseUrl });
    try {
      const account = await createAccount(db, { alias: alias.data, password: values.password });
      console.log(JSON.stringify(account, null, 2));
      console.error("The root token is shown only this once: keep it safe.");
    } finally {
      await closeDatabase(db);
    }
    return;
  }

  if (noun === "policy" && (verb === "check" || verb === "simulate")) {
    if (!arg) fail(`policy ${verb} needs a file`);
    const policy = parsePolicy(readFileSync(arg, "utf8"), { name: arg });
    if (verb === "check") return void console.log(`${arg}: valid, ${policy.statements.length} statement(s)`);
    if (!values.action || !values.resource) fail("policy simulate needs --action and --resource");
    const context = values.context ? JSON.parse(values.context) : {};
    return void console.log(
      JSON.stringify(evaluate([policy], { action: values.action, resource: values.resource, context }), null, 2),
    );
  }

  if (noun === "registry" && verb === "config") {
    const config = loadConfig();
    const regionId = values.region ?? config.defaultRegion;
    const region = config.regions.find((r) => r.id === regionId);
    if (!region)
      fail(`region "${regionId}" is not one of KILN_REGIONS (${config.regions.map((r) => r.id).join(", ")})`);
    const keys = await loadSigningKeys(config.dataDir);
    return void console.log(JSON.stringify(registryConfig(config, region, keys.caFile), null, 2));
  }

  if (noun === "registry" && verb === "write-configs") {
    const config = loadConfig();
    const keys = await loadSigningKeys(config.dataDir);
    for (const region of config.regions) {
      const file = join(config.dataDir, `registry-${region.id}.yml`);
      // The config holds the events token: readable by the owner only.
      const options = { listenHost: values.listen, eventsUrl: values["events-url"] };
      writeFileSync(file, JSON.stringify(registryConfig(config, region, keys.caFile, options), null, 2), {
        mode: 0o600,
      });
      console.log(`${region.id} ${file} ${region.registry}`);
    }
    return;
  }

  if (noun === "backup") {
    if (!verb || arg) fail("backup needs one file: kiln backup <file>");
    const config = loadConfig();
    if (config.databaseUrl)
      fail("backup copies the SQLite database; with KILN_DATABASE_URL (PostgreSQL) use pg_dump instead", 1);
    const { file, bytes } = await backupDatabase(config.dataDir, verb);
    console.log(`${file} ${bytes}`);
    console.error(
      `Restore: stop Kiln, copy ${file} to $KILN_DATA_DIR/${DATABASE_FILE}, with these from ${config.dataDir} ` +
        `(or the same variables): ${FILES_THAT_TRAVEL.join(", ")}; then start Kiln.`,
    );
    return;
  }

  if (noun === "migrate-data") {
    if (verb) fail(`migrate-data takes no positional arguments (got "${redactUrl(verb)}")\n${USAGE}`);
    const from = values.from?.replace(/^sqlite:(\/\/)?/, "");
    if (!values.from?.startsWith("sqlite:") || !from)
      fail(`migrate-data needs --from sqlite:<file> (the data dir's ${DATABASE_FILE})\n${USAGE}`);
    if (!existsSync(from)) fail(`--from: there is no file at ${from}`);
    let to: URL | undefined;
    try {
      to = values.to ? new URL(values.to) : undefined;
    } catch {
      // not a URL: refused below
    }
    if (!to || !/^postgres(ql)?:\/\//.test(values.to!))
      fail(
        `migrate-data needs --to postgres://user:password@host:port/database${values.to ? ` (got "${redactUrl(values.to)}")` : ""}\n${USAGE}`,
      );
    const copied = await migrateData({ from, to: values.to! });
    for (const { table, rows } of copied) console.log(`${table} ${rows}`);
    console.log(`total ${copied.reduce((sum, t) => sum + t.rows, 0)}`);
    console.error(
      `Copied into ${redactUrl(values.to!)}. Keep the data dir's ${FILES_THAT_TRAVEL.join(", ")} (or the same ` +
        `variables) for the Kiln that uses it, and start Kiln with KILN_DATABASE_URL set to that database.`,
    );
    return;
  }

  if (noun === "admin-token") {
    const config = loadConfig();
    return void console.log(
      process.env.KILN_ADMIN_TOKEN ? "KILN_ADMIN_TOKEN is set in the environment" : `${config.dataDir}/admin-token`,
    );
  }
  fail(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
}

run(process.argv.slice(2)).catch((err) => {
  if (err instanceof PolicyError) fail(`policy: ${err.message}`, 1);
  if (
    err instanceof DomainError ||
    err instanceof ConfigError ||
    err instanceof BackupError ||
    err instanceof MigrateDataError
  )
    fail(err.message, 1);
  throw err;
});
