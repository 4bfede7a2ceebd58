import protobuf from "protobufjs";

/**
 * The parts of BuildKit's wire protocol that Kiln speaks, inline so that the bundled production
 * build needs no .proto files beside it: the session's registry-auth service (moby/buildkit
 * session/auth/auth.proto), its secrets service (session/secrets/secrets.proto), the gRPC health
 * check the engine polls to keep a session alive, and the status stream the engine sends as `moby.buildkit.trace`
 * (api/services/control/control.proto).
 */
const PROTO = `
syntax = "proto3";
package moby.filesync.v1;
message CredentialsRequest { string Host = 1; }
message CredentialsResponse { string Username = 1; string Secret = 2; }
message FetchTokenRequest { string ClientID = 1; string Host = 2; string Realm = 3; string Service = 4; repeated string Scopes = 5; }
message FetchTokenResponse { string Token = 1; int64 ExpiresIn = 2; int64 IssuedAt = 3; }
message GetTokenAuthorityRequest { string Host = 1; bytes Salt = 2; }
message GetTokenAuthorityResponse { bytes PublicKey = 1; }
message VerifyTokenAuthorityRequest { string Host = 1; bytes Payload = 2; bytes Salt = 3; }
message VerifyTokenAuthorityResponse { bytes Signed = 1; }

package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { int32 status = 1; }

package moby.buildkit.secrets.v1;
message GetSecretRequest { string ID = 1; map<string, string> annotations = 2; }
message GetSecretResponse { bytes data = 1; }

package moby.buildkit.v1;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Vertex { string digest = 1; repeated string inputs = 2; string name = 3; bool cached = 4; Timestamp started = 5; Timestamp completed = 6; string error = 7; }
message VertexStatus { string ID = 1; string vertex = 2; string name = 3; int64 current = 4; int64 total = 5; Timestamp timestamp = 6; Timestamp started = 7; Timestamp completed = 8; }
message VertexLog { string vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
message StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2; repeated VertexLog logs = 3; }
`;

// protobufjs' parser takes one package per call; the parts are parsed into one root.
const root = new protobuf.Root();
for (const part of PROTO.split(/(?=package )/).slice(1))
  protobuf.parse(`syntax = "proto3";\n${part}`, root, { keepCase: true });

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface Vertex {
  digest: string;
  name: string;
  cached: boolean;
  started?: Timestamp;
  completed?: Timestamp;
  error: string;
}

export interface VertexLog {
  vertex: string;
  stream: number;
  msg: Buffer;
}

export interface StatusResponse {
  vertexes: Vertex[];
  logs: VertexLog[];
}

const statusType = root.lookupType("moby.buildkit.v1.StatusResponse");

/** Decodes one `moby.buildkit.trace` message (base64 protobuf in the JSON stream's `aux`). */
export function decodeStatus(base64: string): StatusResponse {
  const message = statusType.decode(Buffer.from(base64, "base64"));
  return statusType.toObject(message, { longs: Number, defaults: true }) as StatusResponse;
}

/** Serializers for one unary gRPC method of a session service (`moby.filesync.v1.Auth`, …). */
export function unaryMethod(service: string, name: string, request: string, response: string) {
  const pkg = service.slice(0, service.lastIndexOf("."));
  const req = root.lookupType(`${pkg}.${request}`);
  const res = root.lookupType(`${pkg}.${response}`);
  return {
    path: `/${service}/${name}`,
    requestStream: false as const,
    responseStream: false as const,
    requestSerialize: (value: object) => Buffer.from(req.encode(req.fromObject(value)).finish()),
    requestDeserialize: (bytes: Buffer) => req.toObject(req.decode(bytes), { longs: Number, defaults: true }),
    responseSerialize: (value: object) => Buffer.from(res.encode(res.fromObject(value)).finish()),
    responseDeserialize: (bytes: Buffer) => res.toObject(res.decode(bytes), { longs: Number, defaults: true }),
  };
}
