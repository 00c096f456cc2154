/**
 * The work the child processes of the multi-process tests and benchmarks (cluster-child.ts,
 * crash-child.ts) give their job service, and how they report it: numbered people, numbered
 * prompts the sim cannot satisfy at once, one piece of feedback per job, JSON lines on stdout.
 * The parents read the prompts and the feedback back from the stored jobs, so both children
 * must word them alike.
 */
import type { Person } from "../../core/jobs/types.ts";

const HARD_PROMPT = 'three green cones left of two yellow cubes and a purple sphere above a red ring with the text "HELLO"';

/** `count` people, `bench:1` to `bench:<count>`. */
export const workloadPeople = (count: number): Person[] => Array.from({ length: count }, (_, i) => ({ id: `bench:${i + 1}`, name: `Person ${i + 1}` }));

/** Job #index's prompt; indexOfPrompt reads the number back. */
export const promptFor = (index: number): string => `${HARD_PROMPT} (job #${index})`;

export const indexOfPrompt = (prompt: string): number | null => {
  const match = /\(job #(\d+)\)$/.exec(prompt);
  return match ? Number(match[1]) : null;
};

export const feedbackFor = (index: number): string => `job #${index}: make the red ring twice as large`;

/** One line of the child's report to its parent. */
export const emitLine = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
