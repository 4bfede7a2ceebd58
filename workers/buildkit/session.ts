import * as grpc from "@grpc/grpc-js";
import type Docker from "dockerode";
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { unaryMethod } from "./proto.ts";

export interface RegistryLogin {
  username: string;
  password: string;
}

export interface SessionOptions {
  /** The login BuildKit presents to a registry host; none means an anonymous pull. */
  loginFor(host: string): RegistryLogin | undefined;
  /** Build secrets by id, for `RUN --mount=type=secret`; BuildKit asks for each as a step mounts it. */
  secrets?: Record<string, string>;
}

export interface BuildSession {
  id: string;
  close(): void;
}

const authMethod = (name: string) => unaryMethod("moby.filesync.v1.Auth", name, `${name}Request`, `${name}Response`);
const AUTH_SERVICE = {
  Credentials: authMethod("Credentials"),
  FetchToken: authMethod("FetchToken"),
  GetTokenAuthority: authMethod("GetTokenAuthority"),
  VerifyTokenAuthority: authMethod("VerifyTokenAuthority"),
} satisfies grpc.ServiceDefinition;
/**
 * The engine checks a session's health every second and drops the session at the first failed
 * check; without this service every session died a second after it opened, and a build that
 * reached a cache import or a secret mount later failed with "no active session".
 */
const HEALTH_SERVICE = {
  Check: unaryMethod("grpc.health.v1.Health", "Check", "HealthCheckRequest", "HealthCheckResponse"),
} satisfies grpc.ServiceDefinition;
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
const SERVING = 1;
const SECRETS_SERVICE = {
  GetSecret: unaryMethod("moby.buildkit.secrets.v1.Secrets", "GetSecret", "GetSecretRequest", "GetSecretResponse"),
} satisfies grpc.ServiceDefinition;

type Unary = (call: { request: Record<string, unknown> }, callback: grpc.sendUnaryData<object>) => void;
const unimplemented: Unary = (_call, callback) =>
  callback({ code: grpc.status.UNIMPLEMENTED, details: "not offered by Kiln" });

/**
 * A BuildKit session on the engine (`POST /session`, upgraded to HTTP/2): the engine calls back
 * into it for what only the client may hold. Kiln answers registry logins per host, so a build
 * pulls private base images with the build credential and every other registry anonymously;
 * the token exchange itself stays with the engine (FetchToken unimplemented: BuildKit then asks
 * the registry's token server with these credentials, as `docker build` does). It also hands out
 * the build's secrets by id; an unknown id is NotFound, which BuildKit reports naming the id.
 */
export function openSession(docker: Docker, options: SessionOptions): Promise<BuildSession> {
  const id = randomUUID();
  const credentials: Unary = ({ request }, callback) => {
    const login = options.loginFor(String(request.Host ?? ""));
    callback(null, login ? { Username: login.username, Secret: login.password } : {});
  };
  const getSecret: Unary = ({ request }, callback) => {
    const id = String(request.ID ?? "");
    const value = options.secrets && Object.hasOwn(options.secrets, id) ? options.secrets[id] : undefined;
    if (value === undefined) return callback({ code: grpc.status.NOT_FOUND, details: `secret ${id} not found` });
    callback(null, { data: Buffer.from(value, "utf8") });
  };
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        method: "POST",
        path: "/session",
        hijack: true,
        headers: {
          Upgrade: "h2c",
          "X-Docker-Expose-Session-Uuid": id,
          "X-Docker-Expose-Session-Name": "kiln",
          "X-Docker-Expose-Session-Sharedkey": "",
          "X-Docker-Expose-Session-Grpc-Method": [
            ...Object.values(AUTH_SERVICE),
            ...Object.values(SECRETS_SERVICE),
          ].map((m) => m.path),
        },
        statusCodes: { 101: true, 200: true, 500: "server error" },
      },
      (err: Error | null, result?: unknown) => {
        if (err) return reject(err);
        const socket = result as Duplex;
        const server = new grpc.Server();
        server.createConnectionInjector(grpc.ServerCredentials.createInsecure()).injectConnection(socket);
        server.addService(AUTH_SERVICE, {
          Credentials: credentials,
          FetchToken: unimplemented,
          GetTokenAuthority: unimplemented,
          VerifyTokenAuthority: unimplemented,
        });
        server.addService(SECRETS_SERVICE, { GetSecret: getSecret });
        server.addService(HEALTH_SERVICE, {
          Check: ((_call, callback) => callback(null, { status: SERVING })) as Unary,
        });
        resolve({
          id,
          close() {
            server.forceShutdown();
            socket.destroy();
          },
        });
      },
    );
  });
}
