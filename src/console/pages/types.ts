/** The API's answers as the console reads them (the zod schemas in src/api are the source). */
export interface Namespace {
  name: string;
  autoCreateRepository: boolean;
  defaultVisibility: "private" | "public";
  repositoryCount: number;
  createdAt: string;
}

export interface Repository {
  namespace: string;
  name: string;
  region: string;
  visibility: "private" | "public";
  summary: string | null;
  description: string | null;
  image: string;
  createdAt: string;
  updatedAt: string;
  commands?: { login: string; pull: string; tag: string; push: string };
}

export interface Tag {
  tag: string;
  digest: string;
  size: number | null;
  pushedBy: string | null;
  pushedAt: string;
}

export interface SourceBinding {
  provider: string;
  repoUrl: string;
  pushUser: string;
  autoBuild: boolean;
  branchFilter: string | null;
  hasCredentials: boolean;
  webhookUrl: string;
}

export interface BuildRule {
  id: number;
  sourceType: "branch" | "tag";
  source: string;
  tags: string[];
  dockerfileDir: string;
  dockerfileName: string;
  context?: string | null;
  buildArgs?: Record<string, string>;
  target?: string | null;
  noCache: boolean;
  enabled: boolean;
}

export interface Build {
  id: string;
  repository: string;
  region: string;
  ruleId: number | null;
  trigger: string;
  ref: string;
  commit: string | null;
  tags: string[];
  status: "queued" | "running" | "succeeded" | "failed" | "canceled" | "superseded";
  stage?: "fetch" | "build" | "push";
  stageStartedAt?: Partial<Record<"fetch" | "build" | "push", string>>;
  error?: string;
  digest?: string;
  size?: number;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface User {
  name: string;
  displayName: string | null;
  loginName: string;
  hasConsolePassword: boolean;
  hasRegistryPassword: boolean;
  createdAt: string;
  groups?: string[];
}

export interface Group {
  name: string;
  description: string | null;
  createdAt: string;
  members?: string[];
  policies?: string[];
}

export interface Policy {
  name: string;
  type: "System" | "Custom";
  description: string | null;
  document: unknown;
  version: number;
  attachmentCount: number;
}
