import type { Provider, ProviderId } from "../types.ts";
import { bitbucket } from "./bitbucket.ts";
import { codeup } from "./codeup.ts";
import { git } from "./git.ts";
import { gitea } from "./gitea.ts";
import { gitee } from "./gitee.ts";
import { github } from "./github.ts";
import { gitlab } from "./gitlab.ts";

export const PROVIDERS: Readonly<Record<ProviderId, Provider>> = {
  github,
  gitlab,
  gitee,
  codeup,
  gitea,
  bitbucket,
  git,
};
export const PROVIDER_IDS = Object.keys(PROVIDERS) as ProviderId[];
