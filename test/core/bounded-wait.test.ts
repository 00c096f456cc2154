import { describe, expect, it } from "vitest";
import { waitAtMost } from "../../core/bounded-wait.ts";

describe("waitAtMost", () => {
  it("gives the value of work that settles in time", async () => {
    expect(await waitAtMost(Promise.resolve(7), 1_000)).toEqual({ isDone: true, value: 7 });
  });

  it("stops waiting for work that never settles", async () => {
    expect(await waitAtMost(new Promise(() => undefined), 20)).toEqual({ isDone: false });
  });

  it("passes on a rejection that comes in time", async () => {
    await expect(waitAtMost(Promise.reject(new Error("refused")), 1_000)).rejects.toThrow("refused");
  });
});
