export type RepoRef = {
  region: string;
  ns: string;
  repo: string;
};

export const ROUTE = "/api/v1/regions/{region}/repositories/{ns}/{repo}";
