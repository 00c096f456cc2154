import { describe, expect, it } from "vitest";
import { createInMemoryTrajectoryStore } from "../../core/memory/in-memory-trajectory-store.ts";
import { makeTrajectory } from "./trajectory-fixture.ts";

describe("in-memory trajectory store", () => {
  it("get returns a copy, so changing it does not change the stored trajectory", async () => {
    const store = createInMemoryTrajectoryStore();
    await store.put(makeTrajectory("job-1"));
    const first = await store.get("job-1");
    first!.feedback.push({ ...first!.feedback[0]!, id: 2 });
    first!.status = "cancelled";
    expect(await store.get("job-1")).toEqual(makeTrajectory("job-1"));
  });
});
