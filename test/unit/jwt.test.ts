import { generateKeyPairSync } from "node:crypto";
import { importSPKI, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { signEs256, signHs256, verifyHs256 } from "../../src/registry/jwt.ts";

const key = new Uint8Array(32).fill(7);
const now = Math.floor(Date.now() / 1000);

describe("compact JWS on node:crypto", () => {
  it("ES256 tokens verify with jose", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const token = signEs256({ typ: "JWT" }, { sub: "dev1@acme", aud: "cn-hongkong", exp: now + 60 }, privateKey);
    const verifier = await importSPKI(publicKey.export({ type: "spki", format: "pem" }).toString(), "ES256");
    const { payload, protectedHeader } = await jwtVerify(token, verifier, { audience: "cn-hongkong" });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toBe("dev1@acme");
  });

  it("HS256 round-trips and refuses tampering, expiry, another key and alg none", () => {
    const token = signHs256({ sub: "a", exp: now + 60 }, key);
    expect(verifyHs256(token, key)).toMatchObject({ sub: "a" });
    const [h, p, s] = token.split(".") as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: "root", exp: now + 60 })).toString("base64url");
    expect(verifyHs256(`${h}.${forged}.${s}`, key)).toBeUndefined();
    expect(verifyHs256(signHs256({ sub: "a", exp: now - 1 }, key), key)).toBeUndefined();
    expect(verifyHs256(signHs256({ sub: "a" }, key), key)).toBeUndefined();
    expect(verifyHs256(token, new Uint8Array(32).fill(8))).toBeUndefined();
    const none = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    expect(verifyHs256(`${none}.${p}.`, key)).toBeUndefined();
    expect(verifyHs256("not-a-token", key)).toBeUndefined();
  });
});
