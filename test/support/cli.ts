/**
 * Running the `gems` command in tests: in this process through `main()` (fast, for whatever
 * needs no separate process) or as the real bin in a child process with a clean environment.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll } from "vitest";
import { main } from "../../bots/cli/main.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const BUNDLED_SKILLS = join(REPO_ROOT, "skills");
export const GEMS_BIN = join(REPO_ROOT, "bin/gems.mjs");

/** A temporary folder for the test file, made before its tests and removed after them. */
export function useWorkDir(prefix: string): () => string {
  let work: string | undefined;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });
  return () => {
    if (!work) throw new Error("the work folder exists only while the file's tests run");
    return work;
  };
}

/**
 * Returns a function that remembers a child process; any remembered child still running after
 * the file's tests is killed, so a hung `gems` cannot outlive the run. Call it after useWorkDir:
 * afterAll hooks run last-registered first, so the children die before their folder goes.
 */
export function killChildrenAfterAll(): (child: ChildProcess) => void {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });
  return (child) => void children.push(child);
}

/** A port nobody listens on right now, for settings that cannot take 0. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** A stream that keeps what is written to it, standing in for stdout or stderr. */
export class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `gems <argv>` through main() in this process, with exactly `env` as its environment. */
export async function runMain(argv: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main({ argv, env, stdout, stderr, cwd });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export interface BinOptions {
  cwd: string;
  /** Added to PATH, HOME (the cwd) and the bundled skills; nothing else of this process's environment leaks in. */
  env?: Record<string, string>;
  /** Called with everything printed so far, each time more arrives. */
  onStdout?: (text: string, child: ChildProcess) => void;
  /** Called with the child as soon as it exists (e.g. to kill it after the tests if it hangs). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs the real `gems` bin as a child process and resolves when it exits. */
export function runBin(args: string[], options: BinOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnBin(args, options);
    options.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Starts the real `gems` bin as a child process (for servers the test talks to and stops itself). */
export function spawnBin(args: string[], options: Pick<BinOptions, "cwd" | "env">): ChildProcess {
  return spawn(process.execPath, [GEMS_BIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env["PATH"] ?? "", HOME: options.cwd, GEMS_SKILLS_DIR: BUNDLED_SKILLS, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export interface Served {
  child: ChildProcess;
  /** The studio's address, or a worker's /healthz and /metrics address. */
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** The last line `gems serve` prints once it is ready: everything before it has been printed. */
const SERVE_READY = /(?:GEMS Studio is open at|\/healthz and \/metrics at) (http:\/\/\S+?)\/?\n[\s\S]*Ctrl-C stops/;

/** Starts `gems <args>` (a serve command) and resolves once it says where it listens. */
export function startServing(args: string[], options: Pick<BinOptions, "cwd" | "env" | "onSpawn">): Promise<Served> {
  const child = spawnBin(args, options);
  options.onSpawn?.(child);
  let output = "";
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = SERVE_READY.exec(output);
      if (match) resolvePromise({ child, url: match[1] as string, output: () => output, exited });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((code) => reject(new Error(`gems ${args.join(" ")} exited (${code}) before it was ready:\n${output}`)));
  });
}
