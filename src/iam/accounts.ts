import { randomInt } from "node:crypto";
import { eq } from "drizzle-orm";
import { conflict, DomainError } from "../errors.ts";
import { isUniqueViolation, type Db } from "../db/connection.ts";
import { accounts } from "../db/schema.ts";
import type { NewAccount } from "./schemas.ts";
import { hashSecret } from "./secrets.ts";
import { issueAccessKey } from "./tokens.ts";

/** Sixteen digits, like an Alibaba Cloud UID. */
function accountId(): string {
  let id = String(randomInt(1, 10));
  for (let i = 0; i < 15; i++) id += String(randomInt(0, 10));
  return id;
}

export async function createAccount(db: Db, input: { alias: string; password?: string }): Promise<NewAccount> {
  if (await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.alias, input.alias)).get()) {
    throw conflict("AccountAlreadyExists", `an account with alias "${input.alias}" already exists`);
  }
  const passwordHash = input.password ? await hashSecret(input.password) : null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = accountId();
    try {
      await db.insert(accounts).values({ id, alias: input.alias, passwordHash }).run();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.alias, input.alias)).get()) {
        throw conflict("AccountAlreadyExists", `an account with alias "${input.alias}" already exists`);
      }
      continue; // the random id was taken
    }
    const key = await issueAccessKey(db, id, null, "root token");
    return { id, alias: input.alias, rootToken: key.token };
  }
  throw new DomainError("ServiceUnavailable", "could not allocate an account id; try again");
}
