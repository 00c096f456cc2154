import { expect } from "vitest";
import { GemsError } from "../../core/errors.ts";

/** The error a promise rejects with; fails the test when it resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/** The GemsError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function gemsErrorOf(promise: Promise<unknown>): Promise<GemsError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(GemsError);
  return error as GemsError;
}

/** A sleep that records the requested delays and returns at once, so backoff costs no time. */
export function recordingSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}
