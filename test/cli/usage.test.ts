/**
 * `gems usage` reads the jobs a server stored in the data directory: a job service on the real
 * SQLite store runs jobs for two people, then the CLI reports what they spent.
 */
import { describe, expect, it } from "vitest";
import { parseSince } from "../../bots/cli/usage-command.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { runMain } from "../support/cli.ts";
import { alice, bob, makeService, recordSurface, sqliteStore, submitted, tempDir, thread } from "../jobs/job-harness.ts";

const PRICES = JSON.stringify({ currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } });

const usage = (dataDir: string, argv: string[], env: Record<string, string> = {}) =>
  runMain(["usage", ...argv], { GEMS_DATA_DIR: dataDir, GEMS_PRICES: PRICES, ...env }, dataDir);

describe("gems usage", () => {
  it("reports the stored jobs' tokens, images and cost, per person and day, as text and JSON", async () => {
    const dataDir = await tempDir();
    const service = await makeService({ store: await sqliteStore(dataDir), isManual: true, prices: { currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } } });
    const surface = recordSurface(service);
    await service.start();
    const ends: JobEvent[] = [];
    for (const person of [alice, bob, alice]) {
      const jobId = submitted(await service.submit({ prompt: "a red cube", skill: "none", iterations: 2 }, person, thread));
      ends.push(await surface.finished(jobId));
    }
    await service.close();
    const usages = ends.map((e) => (e.type === "job.done" ? e.usage! : null)!);

    const json = await usage(dataDir, ["--since", "7d", "--json"]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.total.jobs).toBe(3);
    expect(report.total.inputTokens).toBe(usages.reduce((s, u) => s + u.inputTokens, 0));
    expect(report.total.inputTokens).toBeGreaterThan(0);
    expect(report.total.images).toBe(usages.reduce((s, u) => s + u.images, 0));
    expect(report.total.cost).toBeCloseTo(usages.reduce((s, u) => s + u.cost!, 0), 10);
    expect(report.byPerson.find((p: any) => p.personId === alice.id).jobs).toBe(2);
    expect(report.jobs).toHaveLength(3);

    const text = await usage(dataDir, ["--since", "24h"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Since .* \(24h\): \$\d+\.\d+, 3 jobs, \d+ images, [\d,]+ tokens in, [\d,]+ out$/m);
    expect(text.stdout).toContain(`• Alice (${alice.id}): `);
    expect(text.stdout).toMatch(/^ {2}\d{4}-\d\d-\d\d: \$/m);
  });

  it("refuses a bad --since or a bad price table with one line", async () => {
    const dataDir = await tempDir();
    const since = await usage(dataDir, ["--since", "last week"]);
    expect(since.code).toBe(2);
    expect(since.stderr.trim()).toBe('gems: --since must be a number of days or hours back, from 1h to 366d, e.g. --since 7d or --since 12h (got "last week").');
    const prices = await usage(dataDir, [], { GEMS_PRICES: '{"models":{"m":{"input":-1}}}' });
    expect(prices.code).toBe(2);
    expect(prices.stderr).toMatch(/GEMS_PRICES: models\.m\.input: .*Example: GEMS_PRICES=\{/);
    expect(parseSince("12h", new Date("2030-01-02T00:00:00Z")).since.toISOString()).toBe("2030-01-01T12:00:00.000Z");
  });
});
