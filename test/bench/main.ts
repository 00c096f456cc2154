/**
 * `npm run bench [suite…]`: measurements that do not belong in unit tests. Every number is a
 * ratio taken side by side in one run, because the machines are shared and noisy.
 */
import { resolve } from "node:path";
import { measureQuality, qualityTable } from "./quality.ts";
import { benchJobs } from "./jobs.ts";
import { benchDiscord } from "./discord.ts";
import { benchLoopModes } from "./loop-modes.ts";
import { benchPool } from "./pool.ts";

const root = resolve(import.meta.dirname, "../..");
const suites: Record<string, () => Promise<string>> = {
  quality: async () => {
    const started = performance.now();
    const rows = await measureQuality(resolve(root, "skills"));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return `## Simulated models: single pass vs GEMS\n\n${qualityTable(rows)}\n\n(${rows[0]?.jobs ?? 0} jobs per setting, ${seconds} s)`;
  },
  jobs: benchJobs,
  discord: benchDiscord,
  "loop-modes": benchLoopModes,
  pool: benchPool,
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
