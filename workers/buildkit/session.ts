import * as grpc from "@grpc/grpc-js";
import type Docker from "dockerode";
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { authMethod } from "./proto.ts";

export interface RegistryLogin {
  username: string;
  password: string;
}

export interface SessionOptions {
  /** The login BuildKit presents to a registry host; none means an anonymous pull. */
  loginFor(host: string): RegistryLogin | undefined;
}

export interface BuildSession {
  id: string;
  close(): void;
}

const AUTH_SERVICE = {
  Credentials: authMethod("Credentials", "CredentialsRequest", "CredentialsResponse"),
  FetchToken: authMethod("FetchToken", "FetchTokenRequest", "FetchTokenResponse"),
  GetTokenAuthority: authMethod("GetTokenAuthority", "GetTokenAuthorityRequest", "GetTokenAuthorityResponse"),
  VerifyTokenAuthority: authMethod(
    "VerifyTokenAuthority",
    "VerifyTokenAuthorityRequest",
    "VerifyTokenAuthorityResponse",
  ),
} satisfies grpc.ServiceDefinition;

type Unary = (call: { request: Record<string, unknown> }, callback: grpc.sendUnaryData<object>) => void;
const unimplemented: Unary = (_call, callback) =>
  callback({ code: grpc.status.UNIMPLEMENTED, details: "not offered by Kiln" });

/**
 * A BuildKit session on the engine (`POST /session`, upgraded to HTTP/2): the engine calls back
 * into it for what only the client may hold. Kiln answers registry logins per host, so a build
 * pulls private base images with the build credential and every other registry anonymously;
 * the token exchange itself stays with the engine (FetchToken unimplemented: BuildKit then asks
 * the registry's token server with these credentials, as `docker build` does).
 */
export function openSession(docker: Docker, options: SessionOptions): Promise<BuildSession> {
  const id = randomUUID();
  const credentials: Unary = ({ request }, callback) => {
    const login = options.loginFor(String(request.Host ?? ""));
    callback(null, login ? { Username: login.username, Secret: login.password } : {});
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
          "X-Docker-Expose-Session-Grpc-Method": Object.values(AUTH_SERVICE).map((m) => m.path),
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
