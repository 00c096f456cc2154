import { describe, expect, it } from "vitest";
import { parseStoredTrajectory } from "../../core/memory/trajectory-schema.ts";
import { CorruptRecordError } from "../../core/memory/storage-errors.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";

describe("trajectory schema", () => {
  it("a trajectory with every optional field set passes unchanged", () => {
    const trajectory = makeTrajectory("job-1");
    expect(parseStoredTrajectory("job-1", JSON.parse(JSON.stringify(trajectory)))).toEqual(trajectory);
  });

  it("a fresh trajectory passes", () => {
    const trajectory = createTrajectory("job-1", { prompt: "a cat", skill: "none", maxIterations: 5 });
    expect(parseStoredTrajectory("job-1", trajectory)).toEqual(trajectory);
  });

  it("an image hash that is not a sha256 is rejected with its path", () => {
    const trajectory = makeTrajectory("job-1");
    trajectory.iterations[0]!.imageHash = "../../etc/passwd";
    expect(() => parseStoredTrajectory("job-1", trajectory)).toThrow(
      /^The stored record for job job-1 is corrupt: iterations\.0\.imageHash: expected a sha256 hex digest$/,
    );
  });

  it("a record written before loop modes and usage existed loads as the reference loop with no usage", () => {
    const { modes: _modes, usage: _usage, ...older } = makeTrajectory("job-1");
    const loaded = parseStoredTrajectory("job-1", JSON.parse(JSON.stringify(older)));
    expect(loaded.modes).toEqual({ verify: "per-question", loop: "full" });
    expect(loaded.usage).toEqual([]);
  });

  it("keeps the modes and usage it was stored with", () => {
    const trajectory = createTrajectory("job-1", { prompt: "a cat", skill: "none", maxIterations: 5 }, new Date(0), { verify: "batch", loop: "fast" });
    trajectory.usage.push({ n: 1, role: "batch-verifier", calls: 1, images: 1, reportedCalls: 1, inputTokens: 900, cachedInputTokens: 512, outputTokens: 20 });
    expect(parseStoredTrajectory("job-1", JSON.parse(JSON.stringify(trajectory)))).toEqual(trajectory);
  });

  it("a missing field is rejected as corrupt", () => {
    const { feedback: _dropped, ...withoutFeedback } = makeTrajectory("job-1");
    expect(() => parseStoredTrajectory("job-1", withoutFeedback)).toThrow(CorruptRecordError);
  });
});
