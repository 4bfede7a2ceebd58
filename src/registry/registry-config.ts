import { join } from "node:path";
import type { Config, Region } from "../config.ts";
import { TOKEN_ISSUER } from "./access-token.ts";

/**
 * The configuration of the CNCF distribution registry serving one region: token auth against
 * Kiln (service = region id) and notifications to `/registry/events`. JSON is YAML, so the
 * registry reads this as it is.
 */
export interface RegistryConfigOptions {
  /** Interface to listen on instead of the region's host (`0.0.0.0` inside a container). */
  listenHost?: string;
  /** Where the registry reaches Kiln's `/registry/events`, when not at KILN_PUBLIC_URL (compose: http://api:8080). */
  eventsUrl?: string;
}

export function registryConfig(
  config: Config,
  region: Region,
  caFile: string,
  options: RegistryConfigOptions = {},
): Record<string, unknown> {
  const [regionHost, port] = splitHostPort(region.registry);
  const host = options.listenHost ?? regionHost;
  return {
    version: 0.1,
    log: { level: "info", fields: { service: "registry", region: region.id } },
    storage: {
      filesystem: { rootdirectory: join(config.dataDir, "registry", region.id) },
      delete: { enabled: true },
      cache: { blobdescriptor: "inmemory" },
    },
    http: { addr: `${host}:${port}`, headers: { "X-Content-Type-Options": ["nosniff"] } },
    auth: {
      token: {
        realm: `${config.publicUrl}/auth/token`,
        service: region.id,
        issuer: TOKEN_ISSUER,
        rootcertbundle: caFile,
      },
    },
    notifications: {
      endpoints: [
        {
          name: "kiln",
          url: options.eventsUrl ?? `${config.publicUrl}/registry/events`,
          headers: { Authorization: [`Bearer ${config.registryEventsToken}`], "X-Kiln-Region": [region.id] },
          timeout: "5s",
          threshold: 5,
          backoff: "1s",
          ignore: { actions: ["pull"], mediatypes: ["application/octet-stream"] },
        },
      ],
    },
  };
}

function splitHostPort(address: string): [string, string] {
  const colon = address.lastIndexOf(":");
  if (colon < 0) return [address, "5000"];
  return [address.slice(0, colon), address.slice(colon + 1)];
}
