/** Docker's own Dockerfile frontend images, for which the engine's built-in frontend stands in. */
const DOCKER_FRONTEND = /^(docker\.io\/)?docker\/dockerfile(-upstream)?(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/;
const DIRECTIVE = /^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$/;

export interface SyntaxChoice {
  /** The Dockerfile to build: unchanged, or without its `# syntax=` line. */
  text: string;
  /** What Kiln did with a `# syntax=` directive, for the build log. */
  note?: string;
}

/**
 * A `# syntax=` directive asks BuildKit to pull a frontend image before it reads the Dockerfile.
 * Workers reach no public registry, so for Docker's own frontend (`docker/dockerfile:1.x`) the
 * directive is dropped and the engine's built-in frontend builds the file; its line becomes an
 * empty line after the other directives, so error line numbers still match the file. Any other
 * frontend is left to BuildKit, which pulls it like a base image (so one kept on a Kiln registry
 * works) or fails naming it.
 */
export function chooseFrontend(text: string): SyntaxChoice {
  const lines = text.split("\n");
  let end = 0;
  while (end < lines.length && DIRECTIVE.test(lines[end]!)) end++;
  const at = lines.slice(0, end).findIndex((line) => DIRECTIVE.exec(line)![1]!.toLowerCase() === "syntax");
  if (at === -1) return { text };
  const image = DIRECTIVE.exec(lines[at]!)![2]!;
  if (!DOCKER_FRONTEND.test(image))
    return { text, note: `# syntax=${image}: BuildKit pulls this frontend image before it reads the Dockerfile` };
  const directives = lines.slice(0, end).filter((_, i) => i !== at);
  return {
    text: [...directives, "", ...lines.slice(end)].join("\n"),
    note: `# syntax=${image}: built by the engine's built-in Dockerfile frontend (frontend images are not pulled)`,
  };
}
