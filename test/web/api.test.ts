import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { FEEDBACK_MAX_CHARS, PROMPT_MAX_CHARS } from "../../core/agent/request.ts";
import { HARD_PROMPT, call, eventsOf, isTerminal, readSse, startStudio, type StudioHarness } from "./studio-harness.ts";

// The page's own module: the studio renders votes.changed by folding it like every event.
const jobState: any = await import(new URL("../../bots/web/public/job-state.js", import.meta.url).href);

let harness: StudioHarness;
let base: string;
const ada = { name: "Ada" };

beforeAll(async () => {
  harness = await startStudio({ latencyMs: 5 });
  base = harness.url;
});

afterAll(async () => {
  await harness?.close();
});

async function startJob(prompt = "a red cube left of a blue sphere", extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await call(base, "POST", "/api/jobs", { prompt, iterations: 2, ...ada, ...extra });
  expect(answer.status).toBe(201);
  return answer.body.jobId as string;
}

async function finishedJob(): Promise<string> {
  const jobId = await startJob();
  await harness.finished(jobId);
  return jobId;
}

function expectError(answer: { status: number; body: any }, status: number, code: string, message?: string | RegExp): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.error.code).toBe(code);
  expect(typeof answer.body.error.message).toBe("string");
  expect(answer.body.error.message.length).toBeGreaterThan(10);
  if (typeof message === "string") expect(answer.body.error.message).toBe(message);
  else if (message) expect(answer.body.error.message).toMatch(message);
}

describe("starting a job", () => {
  it("answers 201 with the job id and its place in line", async () => {
    const answer = await call(base, "POST", "/api/jobs", { prompt: "a red cube", name: "Ada" });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ jobId: expect.stringMatching(/^[A-Za-z0-9_-]+$/), position: expect.any(Number) });
    const status = await call(base, "GET", `/api/jobs/${answer.body.jobId}`);
    expect(status.body.job).toMatchObject({ requester: { id: "web:ada", name: "Ada" }, surfaceRef: { surface: "web" } });
  });

  it("refuses an empty prompt with the service's own message", async () => {
    const answer = await call(base, "POST", "/api/jobs", { prompt: "   ", name: "Ada" });
    expectError(answer, 400, "input", 'The prompt is empty. Describe the image you want, e.g. "a red cube on a blue sphere".');
  });

  it("refuses a prompt over the limit and names the limit", async () => {
    const answer = await call(base, "POST", "/api/jobs", { prompt: "a".repeat(PROMPT_MAX_CHARS + 1), name: "Ada" });
    expectError(answer, 400, "input", `The prompt is ${PROMPT_MAX_CHARS + 1} characters long; the limit is ${PROMPT_MAX_CHARS}. Shorten it and try again.`);
  });

  it("refuses iterations outside 1–10", async () => {
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", iterations: 11, name: "Ada" }), 400, "input", /from 1 to 10 \(got 11\)/);
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", iterations: 2.5, name: "Ada" }), 400, "input", /whole number/);
  });

  it("refuses an unknown skill and lists the known ones", async () => {
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", skill: "nope", name: "Ada" }), 400, "input", /Unknown skill "nope"\. Choose auto, none/);
  });

  it("refuses a request without a name", async () => {
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube" }), 400, "input", /^name must be text/);
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", name: "  " }), 400, "input", /^name is empty/);
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", name: "x".repeat(41) }), 400, "input", /longer than 40/);
  });

  it("refuses fields of the wrong type, naming the field", async () => {
    expectError(await call(base, "POST", "/api/jobs", { prompt: 42, name: "Ada" }), 400, "input", /^prompt must be text/);
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", iterations: "3", name: "Ada" }), 400, "input", /^iterations must be a number/);
  });

  it("refuses an unknown field, so a typo is not silently ignored", async () => {
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", iteration: 3, name: "Ada" }), 400, "input", /Unknown field: "iteration"/);
  });

  it("refuses a body that is not JSON", async () => {
    expectError(await call(base, "POST", "/api/jobs", "{prompt:"), 400, "bad-json", /not valid JSON/);
    expectError(await call(base, "POST", "/api/jobs", ""), 400, "bad-json", /empty/);
  });

  it("refuses JSON that is not an object", async () => {
    expectError(await call(base, "POST", "/api/jobs", [1, 2]), 400, "input", "The request body must be a JSON object.");
    expectError(await call(base, "POST", "/api/jobs", "null"), 400, "input", "The request body must be a JSON object.");
  });

  it("refuses a body over the size limit with 413", async () => {
    const answer = await call(base, "POST", "/api/jobs", { prompt: "a".repeat(100_000), name: "Ada" });
    expectError(answer, 413, "too-large", /larger than 64 KB/);
  });

  it("drops the connection for a body declared past 16 MB instead of reading it", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = request(`${base}/api/jobs`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(20 * 1024 * 1024) } }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on("error", (error: NodeJS.ErrnoException) => resolve(`dropped ${error.code ?? error.message}`));
      req.write("{");
    });
    expect(outcome).toMatch(/^dropped /);
  });

  it("refuses a body that is not declared as JSON (the studio's CSRF guard)", async () => {
    const answer = await call(base, "POST", "/api/jobs", JSON.stringify({ prompt: "a cube", name: "Ada" }), { "content-type": "text/plain" });
    expectError(answer, 415, "unsupported-media-type", /Content-Type: application\/json/);
  });
});

describe("unknown things", () => {
  it("answers 404 JSON for an unknown job on every job endpoint", async () => {
    expectError(await call(base, "GET", "/api/jobs/nope123"), 404, "not-found", /There is no job nope123/);
    expectError(await call(base, "GET", "/api/jobs/nope123/events"), 404, "not-found", /There is no job nope123/);
    expectError(await call(base, "POST", "/api/jobs/nope123/feedback", { text: "more red", ...ada }), 404, "not-found");
    expectError(await call(base, "POST", "/api/jobs/nope123/stop", ada), 404, "not-found");
    expectError(await call(base, "POST", "/api/jobs/nope123/pick", { iteration: 1, ...ada }), 404, "not-found");
    expectError(await call(base, "POST", "/api/jobs/nope123/continue", { iterations: 1, ...ada }), 404, "not-found");
  });

  it("answers 404 for a job id that cannot be one", async () => {
    expectError(await call(base, "GET", "/api/jobs/..%2F..%2Fetc"), 404, "not-found");
    expectError(await call(base, "GET", "/api/jobs/%E0%A4%A"), 404, "not-found");
  });

  it("answers 404 JSON for an unknown path", async () => {
    expectError(await call(base, "GET", "/api/nothing"), 404, "not-found");
    expectError(await call(base, "GET", "/no-such-file.js"), 404, "not-found");
    expectError(await call(base, "GET", "/../package.json"), 404, "not-found");
  });

  it("answers 404 for a malformed or missing image", async () => {
    expectError(await call(base, "GET", "/images/abc.png"), 404, "not-found", /64 hexadecimal/);
    expectError(await call(base, "GET", "/images/../../package.json"), 404, "not-found");
    expectError(await call(base, "GET", `/images/${"a".repeat(64)}.png`), 404, "not-found", /No image aaaaaaaaaaaa/);
  });

  it("answers 405 with Allow for a wrong method", async () => {
    const answer = await call(base, "DELETE", "/api/jobs");
    expectError(answer, 405, "method-not-allowed", /DELETE is not allowed here; use GET or POST/);
    expect(answer.headers.get("allow")).toBe("GET, POST, HEAD");
    expectError(await call(base, "GET", "/api/jobs/abc/stop"), 405, "method-not-allowed");
    expectError(await call(base, "POST", "/metrics", {}), 405, "method-not-allowed");
  });

  it("refuses a Host other than the loopback names (DNS rebinding)", async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/api/jobs`, { headers: { host: "evil.example:80" } }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(status.status).toBe(403);
    expect(JSON.parse(status.body).error.code).toBe("forbidden");
  });
});

describe("feedback and controls", () => {
  it("refuses empty and oversized feedback with the service's messages", async () => {
    const jobId = await finishedJob();
    expectError(await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: " ", ...ada }), 400, "input", "The feedback is empty. Say what the next image should change.");
    expectError(
      await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: "b".repeat(FEEDBACK_MAX_CHARS + 1), ...ada }),
      400,
      "input",
      `The feedback is ${FEEDBACK_MAX_CHARS + 1} characters long; the limit is ${FEEDBACK_MAX_CHARS}. Keep it to the changes that matter most.`,
    );
    expectError(await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: 5, ...ada }), 400, "input", /^text must be a string/);
  });

  it("applies feedback on a finished job and answers with the new questions", async () => {
    const jobId = await finishedJob();
    const answer = await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: "add a yellow star", name: "Bob" });
    expect(answer.status).toBe(200);
    expect(answer.body.isApplied).toBe(true);
    expect(answer.body.questions.length).toBeGreaterThan(0);
    for (const question of answer.body.questions) expect(question).toMatchObject({ source: "feedback", question: expect.stringMatching(/star/i) });
  });

  it("lets only the requester stop a job, with the service's words for anyone else", async () => {
    const jobId = await startJob(HARD_PROMPT, { iterations: 10 });
    expectError(await call(base, "POST", `/api/jobs/${jobId}/stop`, { name: "Mallory" }), 403, "forbidden", "Only Ada or an admin can stop this job.");
    const stopped = await call(base, "POST", `/api/jobs/${jobId}/stop`, ada);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toHaveProperty("best");
    expectError(await call(base, "POST", `/api/jobs/${jobId}/stop`, ada), 409, "conflict", "This job has already been stopped.");
  });

  it("refuses to pick an iteration without an image, or a non-number", async () => {
    const jobId = await finishedJob();
    expectError(await call(base, "POST", `/api/jobs/${jobId}/pick`, { iteration: 99, ...ada }), 400, "input", /Iteration 99 has no image\. Pick one of: 1/);
    expectError(await call(base, "POST", `/api/jobs/${jobId}/pick`, { iteration: "1", ...ada }), 400, "input", /^iteration must be a number/);
    const picked = await call(base, "POST", `/api/jobs/${jobId}/pick`, { iteration: 1, ...ada });
    expect(picked.status).toBe(200);
    expect(picked.body.best).toMatchObject({ n: 1 });
  });

  it("refuses to continue with a bad count, and continues with a good one", async () => {
    const jobId = await finishedJob();
    expectError(await call(base, "POST", `/api/jobs/${jobId}/continue`, { iterations: 0, ...ada }), 400, "input", /Continue with 1 to 10 more iterations \(got 0\)/);
    // A job whose last image passed everything has nothing to refine until feedback says what to change.
    await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: "add a yellow star", ...ada });
    const continued = await call(base, "POST", `/api/jobs/${jobId}/continue`, { iterations: 1, ...ada });
    expect(continued.status, JSON.stringify(continued.body)).toBe(202);
    expect(continued.body).toEqual({ position: expect.any(Number) });
    expectError(await call(base, "POST", `/api/jobs/${jobId}/continue`, { iterations: 1, ...ada }), 409, "conflict");
  });

  it("never answers 500 to any malformed body on any endpoint", async () => {
    const jobId = await finishedJob();
    const bodies: unknown[] = ["", "nul", "[]", "42", '"text"', "{}", { name: 1 }, { name: "Ada", extra: true }, { text: null, name: "Ada" }, { iteration: -1, name: "Ada" }, { iterations: 1e9, name: "Ada" }];
    const paths = ["/api/jobs", `/api/jobs/${jobId}/feedback`, `/api/jobs/${jobId}/stop`, `/api/jobs/${jobId}/pick`, `/api/jobs/${jobId}/continue`, `/api/jobs/${jobId}/vote`];
    for (const path of paths) {
      for (const body of bodies) {
        const answer = await call(base, "POST", path, typeof body === "string" ? body : JSON.stringify(body));
        expect(answer.status, `${path} ${JSON.stringify(body)} → ${JSON.stringify(answer.body)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status, `${path} ${JSON.stringify(body)}`).toBeLessThan(500);
        expect(answer.body.error.message).toEqual(expect.any(String));
      }
    }
  });
});

describe("votes", () => {
  it("records one vote per person per iteration, the last counting, and shows the counts in the job's status", async () => {
    const jobId = await finishedJob();
    expect((await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up", name: "Ada" })).body).toEqual({ votes: [{ n: 1, up: 1, down: 0 }] });
    await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up", name: "Bo" });
    const changed = await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "down", name: "Ada" });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ votes: [{ n: 1, up: 1, down: 1 }] });
    await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "clear", name: "Bo" });
    expect((await call(base, "GET", `/api/jobs/${jobId}`)).body.job.votes).toEqual([{ n: 1, up: 0, down: 1 }]);
  });

  it("votes cast after the job ended reach its event stream as one votes.changed, and the page's end line shows the counts now", async () => {
    const jobId = await finishedJob();
    const ended = harness.jobs.events(jobId);
    const endSeq = ended.ok ? ended.events.length : -1;
    await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up", name: "Ada" });
    await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up", name: "Bo" });

    const { messages } = await readSse(`${base}/api/jobs/${jobId}/events?after=${endSeq}`, (m) => eventsOf(m).some((e) => e.type === "votes.changed"));
    expect(eventsOf(messages)).toEqual([expect.objectContaining({ type: "votes.changed", seq: endSeq + 1, votes: [{ n: 1, up: 2, down: 0 }] })]);
    const status = harness.jobs.status(jobId);
    const all = harness.jobs.events(jobId);
    if (!status.ok || !all.ok) throw new Error("the job is gone");
    const state = jobState.createJobState(status.job);
    for (const event of all.events) jobState.applyEvent(state, event);
    expect(jobState.doneText(state)).toContain("Team votes: #1 👍 2.");
  });

  it("refuses a vote on an iteration without an image, an unknown vote and a missing name with clear messages", async () => {
    const jobId = await finishedJob();
    expectError(await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 9, vote: "up", ...ada }), 400, "input", /^Iteration 9 has no image to vote on\. Vote on one of: 1/);
    expectError(await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "meh", ...ada }), 400, "input", 'vote must be "up", "down" or "clear".');
    expectError(await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up" }), 400, "input");
    expectError(await call(base, "POST", "/api/jobs/nope123/vote", { iteration: 1, vote: "up", ...ada }), 404, "not-found");
  });
});

describe("reading jobs", () => {
  it("lists jobs newest first", async () => {
    const first = await startJob("a red cube");
    const second = await startJob("a blue sphere");
    const answer = await call(base, "GET", "/api/jobs");
    expect(answer.status).toBe(200);
    const ids = (answer.body.jobs as Array<{ jobId: string }>).map((j) => j.jobId);
    expect(ids.indexOf(second)).toBeLessThan(ids.indexOf(first));
  });

  it("gives a job's status with its trajectory", async () => {
    const jobId = await finishedJob();
    const answer = await call(base, "GET", `/api/jobs/${jobId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.job).toMatchObject({ jobId, status: "done", trajectory: { jobId, iterations: expect.any(Array) } });
    expect(answer.body.job.trajectory.iterations.length).toBeGreaterThan(0);
  });

  it("lists the skills with their descriptions", async () => {
    const answer = await call(base, "GET", "/api/skills");
    expect(answer.status).toBe(200);
    expect(answer.body.skills.length).toBeGreaterThan(0);
    expect(answer.body.skills[0]).toEqual({ id: expect.any(String), name: expect.any(String), description: expect.any(String) });
  });

  it("serves a stored image by hash with long cache headers", async () => {
    const jobId = await finishedJob();
    const hash = (await call(base, "GET", `/api/jobs/${jobId}`)).body.job.trajectory.iterations[0].imageHash as string;
    const response = await fetch(`${base}/images/${hash}.png`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect([...bytes.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it("serves the page and its modules with a strict content security policy", async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    const script = await fetch(`${base}/app.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = script.headers.get("etag") ?? "";
    expect((await fetch(`${base}/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
  });
});

describe("event streams", () => {
  it("replays the stored events, then streams new ones live, with each id equal to the seq", async () => {
    const jobId = await startJob(HARD_PROMPT, { iterations: 3 });
    // Connect once the job has a few events, so the stream holds both a replay and live events.
    await harness.waitForEvent((e) => e.jobId === jobId && e.type === "requirements");
    const { status, contentType, messages } = await readSse(`${base}/api/jobs/${jobId}/events`, (m) => eventsOf(m).some(isTerminal));
    expect(status).toBe(200);
    expect(contentType).toBe("text/event-stream; charset=utf-8");
    const events = eventsOf(messages);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(messages.map((m) => m.id)).toEqual(events.map((e) => String(e.seq)));
    expect(events[0]?.type).toBe("job.queued");
    expect(events.some((e) => e.type === "image.ready")).toBe(true);
    const stored = harness.jobs.events(jobId);
    expect(stored.ok && stored.events).toEqual(events);
  });

  it("resumes after Last-Event-ID or ?after= without repeating an event", async () => {
    const jobId = await finishedJob();
    const stored = harness.jobs.events(jobId);
    if (!stored.ok) throw new Error(stored.message);
    const last = stored.events.length;
    const enough = (m: Parameters<typeof eventsOf>[0]) => eventsOf(m).some((e) => e.seq === last);
    const byHeader = await readSse(`${base}/api/jobs/${jobId}/events`, enough, { headers: { "last-event-id": "3" } });
    expect(eventsOf(byHeader.messages).map((e) => e.seq)).toEqual(stored.events.slice(3).map((e) => e.seq));
    const byQuery = await readSse(`${base}/api/jobs/${jobId}/events?after=${last - 1}`, enough);
    expect(eventsOf(byQuery.messages).map((e) => e.type)).toEqual([stored.events[last - 1]?.type]);
  });

  it("streams feedback on a finished job to a browser that is already watching", async () => {
    const jobId = await finishedJob();
    const stored = harness.jobs.events(jobId);
    if (!stored.ok) throw new Error(stored.message);
    const { messages } = await readSse(
      `${base}/api/jobs/${jobId}/events?after=${stored.events.length}`,
      (m) => eventsOf(m).some((e) => e.type === "feedback.added"),
      { onOpen: async () => void (await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: "add a yellow star", ...ada })) },
    );
    const added = eventsOf(messages).find((e): e is Extract<JobEvent, { type: "feedback.added" }> => e.type === "feedback.added");
    expect(added?.questions[0]?.question).toMatch(/star/i);
    expect(added?.seq).toBe(stored.events.length + 1);
  });

  it("refuses a bad ?after= with 400 JSON before the stream starts", async () => {
    const jobId = await startJob();
    expectError(await call(base, "GET", `/api/jobs/${jobId}/events?after=-1`), 400, "input", /"after" must be a whole number/);
    expectError(await call(base, "GET", `/api/jobs/${jobId}/events?after=abc`), 400, "input");
  });

  it("sends a job summary on the overview stream when any job changes", async () => {
    let jobId = "";
    const { messages } = await readSse(`${base}/api/events`, (m) => m.some((x) => x.event === "job" && JSON.parse(x.data).jobId === jobId), {
      onOpen: async () => {
        jobId = await startJob();
      },
    });
    const summary = JSON.parse(messages.find((m) => JSON.parse(m.data).jobId === jobId)?.data ?? "{}");
    expect(summary).toMatchObject({ jobId, requester: { name: "Ada" }, request: { prompt: "a red cube left of a blue sphere" } });
    expect(summary).not.toHaveProperty("trajectory");
  });
});

describe("without sign-in", () => {
  it("says so on /api/me, so the page asks for a name", async () => {
    expect((await call(base, "GET", "/api/me")).body).toEqual({ auth: "none", person: null, isAdmin: false });
  });

  it("refuses a POST from another site's page even on loopback", async () => {
    const evil = await call(base, "POST", "/api/jobs", { prompt: "a cube", ...ada }, { origin: "http://evil.example" });
    expectError(evil, 403, "forbidden", /^This request came from another site/);
    expectError(await call(base, "POST", "/api/jobs", { prompt: "a cube", ...ada }, { "sec-fetch-site": "cross-site" }), 403, "forbidden");
  });
});

describe("operations", () => {
  it("answers /healthz with the job service's status", async () => {
    const answer = await call(base, "GET", "/healthz");
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: "ok", jobs: { jobs: expect.any(Number), queued: expect.any(Number), running: expect.any(Number) }, corruptJobs: 0 });
  });

  it("exposes /metrics in the Prometheus text format", async () => {
    await finishedJob();
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parseExposition(await response.text());

    expect(families.get("gems_jobs")?.type).toBe("gauge");
    expect(families.get("gems_jobs")?.samples.map((s) => s.labels["state"]).sort()).toEqual(["cancelled", "done", "failed", "queued", "running"]);
    expect(families.get("gems_jobs")?.samples.find((s) => s.labels["state"] === "done")?.value).toBeGreaterThan(0);
    expect(families.get("gems_queue_length")?.samples[0]?.value).toEqual(expect.any(Number));
    expect(families.get("gems_images_generated_total")?.type).toBe("counter");
    expect(families.get("gems_images_generated_total")?.samples[0]?.value).toBeGreaterThan(0);

    const calls = families.get("gems_model_call_seconds");
    expect(calls?.type).toBe("histogram");
    for (const model of ["mllm", "generator"]) {
      const count = calls?.samples.find((s) => s.name === "gems_model_call_seconds_count" && s.labels["model"] === model && s.value > 0);
      expect(count, `observations for ${model}`).toBeDefined();
    }
    // Buckets are cumulative and end at +Inf, which equals the count.
    const series = new Map<string, number[]>();
    for (const s of calls?.samples ?? []) {
      if (s.name !== "gems_model_call_seconds_bucket") continue;
      const key = `${s.labels["model"]}/${s.labels["role"]}`;
      series.set(key, [...(series.get(key) ?? []), s.value]);
    }
    for (const [key, buckets] of series) {
      expect(buckets, key).toEqual([...buckets].sort((a, b) => a - b));
      const count = calls?.samples.find((s) => s.name === "gems_model_call_seconds_count" && `${s.labels["model"]}/${s.labels["role"]}` === key);
      expect(buckets.at(-1)).toBe(count?.value);
    }
  });
});

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the text exposition format: any line it does not understand fails the test. */
function parseExposition(text: string): Map<string, { type: string; help: string; samples: ParsedSample[] }> {
  const families = new Map<string, { type: string; help: string; samples: ParsedSample[] }>();
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.trimEnd().split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (help) {
      families.set(help[1] as string, { type: "untyped", help: help[2] as string, samples: [] });
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      const family = families.get(type[1] as string);
      expect(family, `TYPE after HELP for ${type[1]}`).toBeDefined();
      if (family) family.type = type[2] as string;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.]+(?:e[+-]?\d+)?|\+Inf|-Inf|NaN)$/.exec(line);
    expect(sample, `a sample line: ${line}`).not.toBeNull();
    if (!sample) continue;
    const name = sample[1] as string;
    const labels: Record<string, string> = {};
    for (const pair of (sample[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
    const familyName = [...families.keys()].find((f) => name === f || (families.get(f)?.type === "histogram" && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === f));
    expect(familyName, `a declared family for ${name}`).toBeDefined();
    families.get(familyName as string)?.samples.push({ name, labels, value: Number(sample[4] === "+Inf" ? Infinity : sample[4]) });
  }
  return families;
}
