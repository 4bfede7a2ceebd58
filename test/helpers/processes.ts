import { execFile } from "node:child_process";

export interface ProcessInfo {
  pid: number;
  args: string;
}

/**
 * The processes of this machine whose command line contains `text` (from `ps -eo pid=,args=`).
 * The Docker engine runs here, so a build's running step (a BuildKit executor process, or a legacy
 * build container) shows up as a process of its own. Asynchronous: Kiln may live in this process.
 */
export function processesWith(text: string): Promise<ProcessInfo[]> {
  return new Promise((resolve, reject) => {
    execFile("ps", ["-eo", "pid=,args="], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const found: ProcessInfo[] = [];
      for (const line of stdout.split("\n")) {
        const m = /^\s*(\d+)\s+(.*)$/.exec(line);
        if (m && m[2]!.includes(text)) found.push({ pid: Number(m[1]), args: m[2]! });
      }
      resolve(found);
    });
  });
}

/** Kills what a failed test left running (by pid, one by one), so that a long sleep does not outlive it. */
export function killLeftovers(processes: ProcessInfo[]): void {
  for (const p of processes) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
