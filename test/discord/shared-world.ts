/**
 * A Discord world shared by all tests of a file, for files whose tests each hold a job at the
 * generator. Kept apart from harness.ts, which the benchmarks load outside vitest.
 */
import type { APIUser } from "discord.js";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { gatedGenerator, startWorld, type Gate, type World, type WorldOptions } from "./harness.ts";

/** One world shared by a file's tests, with Alice and Bob in it and a gate on its generator. */
export interface GatedWorld {
  world: World;
  gate: Gate;
  alice: APIUser;
  bob: APIUser;
}

/**
 * Starts a GatedWorld before the file's tests, hands it to `onStarted` (which keeps it in the
 * file's own variables, so tests read `world` and `gate` as before) and closes it after them.
 * The gate is shut again before each test: every test decides for itself when images are drawn.
 */
export function shareGatedWorld(options: Omit<WorldOptions, "generator">, onStarted: (shared: GatedWorld) => void): void {
  let gate: Gate | undefined;
  let world: World | undefined;
  beforeAll(async () => {
    gate = gatedGenerator(createSimGenerator({ latencyMs: 2 }));
    world = await startWorld({ ...options, generator: gate.generator });
    onStarted({ world, gate, alice: world.fake.user("alice", "Alice"), bob: world.fake.user("bob", "Bob") });
  });
  afterAll(async () => {
    gate?.open();
    await world?.close();
  });
  beforeEach(() => gate?.close());
}
