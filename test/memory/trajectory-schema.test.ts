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

  it("a missing field is rejected as corrupt", () => {
    const { feedback: _dropped, ...withoutFeedback } = makeTrajectory("job-1");
    expect(() => parseStoredTrajectory("job-1", withoutFeedback)).toThrow(CorruptRecordError);
  });
});
