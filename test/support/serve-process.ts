/**
 * `gems serve --role <role>` as a child process of the test (the real bin, through
 * ./cli.ts's startServing), for claims that only hold across processes. Killed at the end of
 * the test file if still running; `stop()` sends SIGTERM, which drains, and gives the exit code.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll } from "vitest";
import { startServing, type Served } from "./cli.ts";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

export interface ServedRole extends Served {
  stop(): Promise<number | null>;
}

export async function startRole(role: string, cwd: string, env: Record<string, string>): Promise<ServedRole> {
  const served = await startServing(["serve", "--role", role], {
    cwd,
    env: { GEMS_WEB_PORT: "0", GEMS_WORKER_PORT: "0", GEMS_SIM_LATENCY_MS: "5", ...env },
    onSpawn: (child) => children.push(child),
  });
  const stop = (): Promise<number | null> => {
    if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill("SIGTERM");
    return served.exited;
  };
  return { ...served, stop };
}

/** Reads until `isReady` says yes, every 100 ms, or fails with the last value read. */
export async function waitFor<T>(read: () => Promise<T>, isReady: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (isReady(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
