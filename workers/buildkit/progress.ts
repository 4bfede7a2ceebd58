import type { StatusResponse, Timestamp } from "./proto.ts";

interface Step {
  number: number;
  name: string;
  announced: boolean;
  cached: boolean;
  ended: boolean;
  /** Output not yet ended by a newline. */
  partial: string;
  /** The step's last few output lines, kept for explaining its failure. */
  tail: string[];
}

/** BuildKit marks the steps it abandons after another one failed with these. */
const CANCELED = /^(context canceled|canceled)$/i;
const MAX_PARTIAL = 4096;
const TAIL_LINES = 5;

const seconds = (t: Timestamp) => t.seconds + t.nanos / 1e9;

/**
 * Turns BuildKit's status stream into the lines `docker build --progress=plain` prints: each step
 * numbered when it starts (`#4 [2/3] RUN make`), its output as it comes (`#4 …`), then
 * `#4 CACHED`, `#4 DONE 1.2s` or `#4 ERROR: …`. Updates of one step repeat; each line is
 * written once. Pure: it knows nothing of Docker or the job.
 */
export class BuildProgress {
  private readonly steps = new Map<string, Step>();
  private numbered = 0;
  /** The first step that failed for a reason of its own (not because another one failed), with its last output lines. */
  failure?: { step: string; error: string; output: string[] };

  constructor(private readonly emit: (line: string) => void) {}

  update(status: StatusResponse): void {
    for (const vertex of status.vertexes) {
      const step = this.step(vertex.digest, vertex.name);
      if (!step.announced && (vertex.started || vertex.cached)) this.announce(step);
      if (vertex.cached && !step.cached) {
        step.cached = true;
        this.emit(`#${step.number} CACHED`);
      }
      if (step.ended) continue;
      if (vertex.error) {
        step.ended = true;
        this.flush(step);
        this.emit(`#${step.number} ERROR: ${vertex.error}`);
        if (!this.failure && !CANCELED.test(vertex.error))
          this.failure = { step: step.name, error: vertex.error, output: [...step.tail] };
      } else if (vertex.completed) {
        step.ended = true;
        this.flush(step);
        if (!step.cached) {
          const took = vertex.started ? seconds(vertex.completed) - seconds(vertex.started) : 0;
          this.emit(`#${step.number} DONE ${took.toFixed(1)}s`);
        }
      }
    }
    for (const log of status.logs) {
      const step = this.step(log.vertex, "");
      if (!step.announced) this.announce(step);
      const text = step.partial + Buffer.from(log.msg).toString("utf8");
      const lines = text.split("\n");
      step.partial = lines.pop()!;
      for (const line of lines) this.output(step, line);
      if (step.partial.length > MAX_PARTIAL) this.flush(step);
    }
  }

  /** Writes what is left when the stream ends. */
  end(): void {
    for (const step of this.steps.values()) this.flush(step);
  }

  private step(digest: string, name: string): Step {
    let step = this.steps.get(digest);
    if (!step) {
      step = { number: 0, name, announced: false, cached: false, ended: false, partial: "", tail: [] };
      this.steps.set(digest, step);
    }
    if (name && !step.name) step.name = name;
    return step;
  }

  private announce(step: Step): void {
    step.announced = true;
    step.number = ++this.numbered;
    this.emit(`#${step.number} ${step.name}`);
  }

  private flush(step: Step): void {
    if (step.partial) this.output(step, step.partial);
    step.partial = "";
  }

  private output(step: Step, line: string): void {
    // A progress bar rewrites its line with \r: only its last state is worth keeping.
    const shown = line
      .split("\r")
      .filter((part) => part.trim() !== "")
      .pop()
      ?.trimEnd();
    if (!shown) return;
    this.emit(`#${step.number} ${shown}`);
    step.tail.push(shown);
    if (step.tail.length > TAIL_LINES) step.tail.shift();
  }
}
