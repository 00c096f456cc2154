import { createHash } from "node:crypto";
import { createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";

export function fakeImageHash(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** A trajectory two iterations in, with every optional field set, so a lossy store shows. */
export function makeTrajectory(jobId: string, createdAt = new Date("2025-01-02T03:04:05.000Z")): Trajectory {
  const trajectory = createTrajectory(
    jobId,
    { prompt: "a red cube on a blue sphere", skill: "auto", maxIterations: 5, seed: 42 },
    createdAt,
  );
  return {
    ...trajectory,
    status: "running",
    plan: { skill: "spatial", prompt: "a red cube resting on top of a blue sphere", why: "spatial relation" },
    requirements: [
      { id: 1, question: "Is there a red cube?", source: "prompt" },
      { id: 2, question: "Is the cube on the sphere?", source: "prompt", retiredByFeedbackId: 1 },
      { id: 3, question: "Is the sphere matte?", source: "feedback", feedbackId: 1 },
    ],
    iterations: [
      {
        n: 1,
        prompt: "a red cube resting on top of a blue sphere",
        thought: null,
        imageHash: fakeImageHash(`${jobId}-1`),
        verdicts: [
          { requirementId: 1, passed: true, answer: "Yes" },
          { requirementId: 2, passed: false, answer: "Maybe", failure: "unsure" },
        ],
        passed: 1,
        total: 2,
        isVerified: true,
        experience: "The cube floats; say it rests on the sphere.",
        startedAt: "2025-01-02T03:04:06.000Z",
        regressions: [],
      },
      {
        n: 2,
        prompt: ":base64: a prompt that starts like Keyv's buffer marker",
        thought: "Move the cube down.",
        imageHash: null,
        verdicts: [],
        passed: 0,
        total: 0,
        isVerified: false,
        experience: null,
        startedAt: "2025-01-02T03:04:07.000Z",
        error: "generator timed out",
      },
    ],
    feedback: [
      {
        id: 1,
        author: "ana",
        text: "make the sphere matte",
        atIteration: 1,
        requirementIds: [3],
        retiredRequirementIds: [2],
        addedAt: "2025-01-02T03:04:06.500Z",
      },
    ],
    nextPrompt: { prompt: "a red cube on a matte blue sphere", thought: "feedback first" },
    best: { n: 1, imageHash: fakeImageHash(`${jobId}-1`), passed: 1, total: 2 },
  };
}
