/**
 * The same job through `gems run`, once against a model that answers at once and once against
 * the same model thinking for 150 to 800 tokens before each answer, on every server family.
 * The thinking must change nothing: same prompts, same images, same verdicts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { runMain } from "../support/cli.ts";
import { SERVER_FAMILIES, startReasoningModel, thinkingFor, type ServerFamily } from "../fakes/model-servers.ts";

const root = resolve(import.meta.dirname, "../..");
const PROMPT = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-reasoning-"));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

async function runAgainst(family: ServerFamily, thinking: (index: number) => number, env: Record<string, string> = {}) {
  const model = await startReasoningModel({ family, thinkingTokens: thinking });
  const out = join(work, `${family}-${Math.random().toString(36).slice(2)}`);
  try {
    const { code, stderr } = await runMain(
      ["run", PROMPT, "--out", out, "--seed", "3", "--skill", "none"],
      {
        GEMS_DATA_DIR: join(out, "data"),
        GEMS_SKILLS_DIR: join(root, "skills"),
        GEMS_MLLM_BASE_URL: model.url,
        GEMS_MLLM_MODEL: "reasoner",
        GEMS_GENERATOR: "sim",
        ...env,
      },
      work,
    );
    const trajectory = JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8"));
    return { code, trajectory, calls: model.requests.length, completionTokens: model.completionTokens(), stderr };
  } finally {
    await model.close();
  }
}

const verdictsOf = (trajectory: any) =>
  trajectory.iterations.map((it: any) => ({ prompt: it.prompt, verdicts: it.verdicts.map((v: any) => [v.requirementId, v.passed]) }));

describe.each(SERVER_FAMILIES)("a reasoning model on %s", (family) => {
  it("gives the same verdicts after 150-800 tokens of thinking as a model that answers at once", async () => {
    const direct = await runAgainst(family, () => 0);
    const thinking = await runAgainst(family, thinkingFor);
    expect(direct.code, direct.stderr).toBe(0);
    expect(thinking.code, thinking.stderr).toBe(0);
    expect(direct.trajectory.iterations.length).toBeGreaterThan(1);
    expect(verdictsOf(thinking.trajectory)).toEqual(verdictsOf(direct.trajectory));
    expect(thinking.trajectory.best).toEqual(direct.trajectory.best);
    // Thinking costs tokens, not extra calls, when the budget leaves room for it.
    expect(thinking.calls).toBe(direct.calls);
    expect(thinking.completionTokens).toBeGreaterThan(direct.completionTokens + 150 * direct.calls);
  });
});

describe("a thinking budget that is too small", () => {
  it("costs one retry per cut-off call and still gives the same verdicts", async () => {
    const direct = await runAgainst("vllm", () => 0);
    // Room for 100 tokens of thought: every 150+ token thought is cut off once, then fits in 4x.
    const tight = await runAgainst("vllm", thinkingFor, { GEMS_MLLM_THINKING_TOKENS: "100" });
    expect(tight.code, tight.stderr).toBe(0);
    expect(verdictsOf(tight.trajectory)).toEqual(verdictsOf(direct.trajectory));
    expect(tight.calls).toBeGreaterThan(direct.calls);
    expect(tight.calls).toBeLessThanOrEqual(2 * direct.calls);
  });

  it("fails the job with 'ran out of tokens' instead of counting the empty answers as a no", async () => {
    const starved = await runAgainst("sglang", () => 5_000, { GEMS_MLLM_THINKING_TOKENS: "0" });
    expect(starved.code).toBe(1);
    expect(starved.trajectory.status).toBe("failed");
    expect(starved.trajectory.error).toMatch(/ran out of tokens/);
    expect(starved.trajectory.iterations.flatMap((it: any) => it.verdicts)).toEqual([]);
  });
});
