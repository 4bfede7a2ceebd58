import { z } from "zod";

/** The token endpoint's answer, as Docker's token protocol defines it; the API names it for OpenAPI. */
export const TokenAnswerSchema = z.object({
  token: z.string(),
  access_token: z.string(),
  expires_in: z.number(),
  issued_at: z.string(),
  refresh_token: z.string().optional(),
  /**
   * For a build credential only: why each refused pull was refused, so that the worker names the
   * base image and the policy decision when BuildKit may not pull it.
   */
  denied: z.array(z.object({ scope: z.string(), reason: z.string() })).optional(),
});
export type TokenAnswer = z.infer<typeof TokenAnswerSchema>;
