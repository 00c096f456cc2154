/**
 * Usage in the studio: /api/usage (own usage; admins the team's by person, per UTC day), the
 * usage page's chart data, the cost on a finished job's stream, and quota refusals as 429s.
 */
import { afterEach, describe, expect, it } from "vitest";
import { call, HARD_PROMPT, startStudio, type StudioHarness } from "./studio-harness.ts";

// The page's own modules (plain JS, no declarations), loaded as the browser loads them.
const publicModule = (name: string): Promise<any> => import(new URL(`../../bots/web/public/${name}`, import.meta.url).href);
const { usageBars } = await publicModule("usage-chart.js");
const { applyEvent, createJobState, doneText } = await publicModule("job-state.js");

const PRICES = { currency: "USD", models: { sim: { input: 1, output: 2, image: 0.01 } } };
let harness: StudioHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function runJob(h: StudioHarness, name: string, prompt = "a red cube", iterations = 2) {
  const started = await call(h.url, "POST", "/api/jobs", { prompt, iterations, name });
  expect(started.status).toBe(201);
  return h.finished(started.body.jobId);
}

describe("usage in the studio", () => {
  it("answers /api/usage with the person's own usage, and the team's by person for admins", async () => {
    harness = await startStudio({ usage: { prices: PRICES }, admins: ["web:ada"] });
    const end = await runJob(harness, "Bo");
    if (end.type !== "job.done") throw new Error(`job ended ${end.type}`);

    const own = await call(harness.url, "GET", "/api/usage?days=7&name=Bo");
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ person: { id: "web:bo" }, isTeam: false, days: 7 });
    expect(own.body.report.total).toMatchObject({ jobs: 1, images: end.usage!.images, inputTokens: end.usage!.inputTokens });
    expect(own.body.report.total.cost).toBeCloseTo(end.usage!.cost!, 10);
    expect(own.body.report.byDay).toHaveLength(1);

    const other = await call(harness.url, "GET", "/api/usage?name=Cy");
    expect(other.body.report.total.jobs).toBe(0);
    const team = await call(harness.url, "GET", "/api/usage?days=30&name=Ada");
    expect(team.body.isTeam).toBe(true);
    expect(team.body.report.byPerson.map((p: any) => p.personId)).toEqual(["web:bo"]);

    const bad = await call(harness.url, "GET", "/api/usage?days=0&name=Bo");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('"days" must be a whole number from 1 to 366 (got "0").');
    const nameless = await call(harness.url, "GET", "/api/usage");
    expect(nameless.status).toBe(400);

    // The page's chart: one bar per day of the period, today's the tallest.
    const bars = usageBars(own.body.report.byDay, 7, new Date(), "cost");
    expect(bars).toHaveLength(7);
    expect(bars.at(-1)).toMatchObject({ day: new Date().toISOString().slice(0, 10), share: 1 });
    expect(bars.slice(0, 6).every((b: any) => b.value === 0)).toBe(true);

    // The page's final line carries the cost, as the chat surfaces' final messages do.
    const { job } = (await call(harness.url, "GET", `/api/jobs/${end.jobId}`)).body;
    const events = harness.jobs.events(end.jobId);
    if (!events.ok) throw new Error(events.message);
    const state = createJobState(job);
    for (const event of events.events) applyEvent(state, event);
    expect(doneText(state)).toMatch(/ Cost: \$0\.\d{4} \([\d,]+ tokens in, [\d,]+ out, \d images?\)$/);
  });

  it("refuses a job over the person's daily quota with 429 and the reason", async () => {
    harness = await startStudio({ usage: { prices: PRICES, quotas: { personDaily: { kind: "images", images: 2 }, channelDaily: null } } });
    const end = await runJob(harness, "Bo", HARD_PROMPT, 4);
    expect(end).toMatchObject({ type: "job.done", reason: "quota" });
    const refused = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", name: "Bo" });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "quota" });
    expect(refused.body.error.message).toMatch(/^You have used 2 of 2 images today \(UTC\)/);
  });

  it("serves the usage page", async () => {
    harness = await startStudio({ usage: {} });
    const page = await call(harness.url, "GET", "/usage.html");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/usage.js"></script>');
  });
});
