/**
 * `npm run bench [suite…]`: measurements that do not belong in unit tests. Every number is a
 * ratio taken side by side in one run, because the machines are shared and noisy.
 */
import { resolve } from "node:path";
import { NEW_BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { measureQuality, qualityComparisonTable } from "./quality.ts";
import { benchJobs } from "./jobs.ts";
import { benchDiscord } from "./discord.ts";
import { benchLoopModes } from "./loop-modes.ts";
import { benchPool } from "./pool.ts";
import { benchReasoning } from "./reasoning.ts";
import { benchPreviews } from "./previews.ts";
import { benchProvenance } from "./provenance.ts";
import { benchScaleOut } from "./scale-out.ts";
import { benchRefineModes } from "./refine-modes.ts";
import { benchUsage } from "./usage.ts";

const root = resolve(import.meta.dirname, "../..");
const suites: Record<string, () => Promise<string>> = {
  quality: async () => {
    const started = performance.now();
    const first = await measureQuality(resolve(root, "skills"));
    const second = await measureQuality(resolve(root, "skills"), [1, 2, 3], NEW_BENCH_PROMPTS);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const jobs = `${first[0]?.jobs ?? 0} + ${second[0]?.jobs ?? 0} jobs per setting`;
    return `## Simulated models: single pass vs GEMS\n\n${qualityComparisonTable(first, second)}\n\n(${jobs}, ${seconds} s)`;
  },
  jobs: benchJobs,
  discord: benchDiscord,
  "loop-modes": benchLoopModes,
  pool: benchPool,
  reasoning: () => benchReasoning(resolve(root, "skills")),
  previews: benchPreviews,
  provenance: benchProvenance,
  scale: benchScaleOut,
  "refine-modes": benchRefineModes,
  usage: benchUsage,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in suites));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown suite ${unknown.join(", ")}; known: ${Object.keys(suites).join(", ")}\n`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  process.stdout.write(`${await suites[name]!()}\n\n`);
}
