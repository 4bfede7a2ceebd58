import "reflect-metadata"; // @peculiar/x509 needs the Reflect polyfill before it loads
import * as x509 from "@peculiar/x509";
import { createPrivateKey, webcrypto, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const CA_DAYS = 3650;
const SIGNING_DAYS = 365;
/** A signing certificate this close to its end is replaced at start; the CA stays, so the registry need not change. */
const RENEW_BEFORE_DAYS = 30;

export interface SigningKeys {
  /** PEM of the CA: the registry's `auth.token.rootcertbundle`. */
  caPem: string;
  privateKey: KeyObject;
  /** Base64 DER of the signing certificate, then the CA: the JWT `x5c` header. */
  x5c: string[];
  caFile: string;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trim()}\n-----END PRIVATE KEY-----\n`;
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

async function importPrivate(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  return webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
}

async function createCa(dir: string): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Date.now().toString(16),
    name: "CN=Kiln registry token CA",
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + CA_DAYS * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  writeFileSync(join(dir, "ca.pem"), cert.toString("pem") + "\n");
  writeSecret(join(dir, "ca.key"), await pkcs8Pem(keys.privateKey));
}

async function createSigningCert(dir: string): Promise<void> {
  const ca = new x509.X509Certificate(readFileSync(join(dir, "ca.pem"), "utf8"));
  const caKey = await importPrivate(readFileSync(join(dir, "ca.key"), "utf8"));
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Date.now().toString(16),
    subject: "CN=Kiln registry token signer",
    issuer: ca.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + SIGNING_DAYS * DAY),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  writeFileSync(join(dir, "signing.pem"), cert.toString("pem") + "\n");
  writeSecret(join(dir, "signing.key"), await pkcs8Pem(keys.privateKey));
}

/** Loads the token-signing keys from `$KILN_DATA_DIR/registry-auth`, creating or renewing them as needed. */
export async function loadSigningKeys(dataDir: string): Promise<SigningKeys> {
  const dir = join(dataDir, "registry-auth");
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "ca.pem")) || !existsSync(join(dir, "ca.key"))) await createCa(dir);
  const signingPath = join(dir, "signing.pem");
  const stale = () =>
    new x509.X509Certificate(readFileSync(signingPath, "utf8")).notAfter.getTime() - Date.now() <
    RENEW_BEFORE_DAYS * DAY;
  if (!existsSync(signingPath) || !existsSync(join(dir, "signing.key")) || stale()) await createSigningCert(dir);
  const caPem = readFileSync(join(dir, "ca.pem"), "utf8");
  const der = (pem: string) => Buffer.from(new x509.X509Certificate(pem).rawData).toString("base64");
  return {
    caPem,
    caFile: join(dir, "ca.pem"),
    privateKey: createPrivateKey(readFileSync(join(dir, "signing.key"), "utf8")),
    x5c: [der(readFileSync(signingPath, "utf8")), der(caPem)],
  };
}
