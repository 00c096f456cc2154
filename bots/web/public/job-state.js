// A job as the page shows it, rebuilt from the same event stream the chat bots render. The
// status fetch supplies only what events do not carry: the request and who made it.

export function createJobState(job) {
  return {
    jobId: job.jobId,
    request: job.request,
    requester: job.requester,
    surface: job.surfaceRef?.surface ?? job.requester.id.split(":")[0],
    status: "queued",
    position: null,
    plan: null,
    requirements: new Map(),
    iterations: new Map(),
    feedback: [],
    references: null,
    best: null,
    stopReason: null,
    error: null,
    lastSeq: 0,
    progress: "",
    /** Team votes per iteration number: { up, down }. */
    votes: new Map(),
  };
}

/** The team's votes as the server counts them (status fetch, vote answer, job.done, votes.changed). */
export function setVotes(state, votes) {
  state.votes = new Map((votes ?? []).map((v) => [v.n, { up: v.up, down: v.down }]));
}

/** Fields from a fresh status fetch that events do not bring (maxIterations grows on continue). */
export function updateFromStatus(state, job) {
  state.request = job.request;
  state.requester = job.requester;
  if (job.status === "queued") state.position = job.position;
  if (job.votes) setVotes(state, job.votes);
}

const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

function iteration(state, n) {
  let it = state.iterations.get(n);
  if (!it) {
    it = { n, prompt: "", thought: null, imageHash: null, preview: null, verdicts: null, regressions: null, passed: 0, total: 0, experience: null, nextPrompt: null, error: null };
    state.iterations.set(n, it);
  }
  return it;
}

export function isFinished(status) {
  return status === "done" || status === "failed" || status === "cancelled";
}

/** "Team votes: #2 👍 3 👎 1 · #3 👍 1", as the chat surfaces word it (core/jobs/vote-text.ts); "" without votes. */
export function votesText(state) {
  const counts = [...(state.votes ?? new Map()).entries()].filter(([, v]) => v.up + v.down > 0).sort(([a], [b]) => a - b);
  if (counts.length === 0) return "";
  return `Team votes: ${counts.map(([n, v]) => `#${n} 👍 ${v.up}${v.down > 0 ? ` 👎 ${v.down}` : ""}`).join(" · ")}${choiceText(state)}.`;
}

// After votes cast past the end (votes.changed) the result stays the one chosen at the end.
const choiceText = (state) =>
  !state.isChosenByVotes ? "" : state.isVotedAfterEnd ? " — the result is the image most voted when the job ended" : " — the most voted image is the result";

export function doneText(state) {
  const votes = votesText(state);
  const text = endText(state);
  const withVotes = state.status === "done" && votes ? `${text} ${votes}` : text;
  return withVotes && state.usage ? `${withVotes} ${costText(state.usage)}` : withVotes;
}

function endText(state) {
  const best = state.best;
  const bestText = best ? `iteration ${best.n} passed ${best.passed} of ${best.total}` : "there is no image";
  switch (state.status) {
    case "done":
      if (state.stopReason === "all-passed") return `Done: every requirement passed on iteration ${best?.n ?? "?"}.`;
      if (state.stopReason === "picked") return `Done: iteration ${best?.n ?? "?"} was picked as the result.`;
      if (state.stopReason === "quota") return `Stopped by a quota: ${state.stopMessage ?? "the daily quota is used up."} The best, ${bestText}.`;
      return `Done after ${plural(state.iterations.size, "iteration")}; the best, ${bestText}.`;
    case "failed":
      return `Failed: ${state.error ?? "unknown error"}${best ? ` The best so far: ${bestText}.` : ""}`;
    case "cancelled":
      return `Stopped${best ? `; the best so far: ${bestText}` : ""}.`;
    default:
      return "";
  }
}

/** Applies one stored event; returns false for one already applied (replays overlap on reconnect). */
export function applyEvent(state, event) {
  if (event.seq <= state.lastSeq) return false;
  state.lastSeq = event.seq;
  switch (event.type) {
    case "job.queued":
      state.status = "queued";
      state.position = event.position;
      state.stopReason = null;
      state.error = null;
      state.progress = event.position > 0 ? `Waiting: number ${event.position} in line.` : "Starting…";
      break;
    case "job.started":
      // A restart draws the interrupted image again; its old preview is stale.
      for (const it of state.iterations.values()) it.preview = null;
      state.status = "running";
      state.position = null;
      state.progress = event.resumed ? "Resumed after a restart." : "Planning…";
      break;
    case "plan.done":
      state.plan = { skill: event.skill, prompt: event.prompt, why: event.why, modes: event.modes ?? null };
      state.progress = `${event.skill ? `Using the skill “${event.skill}”.` : "No skill needed."} Writing the checklist…`;
      break;
    case "requirements":
      for (const q of event.questions) state.requirements.set(q.id, { ...q, retired: false });
      state.progress = `The checklist has ${plural(event.questions.length, "question")}.`;
      break;
    case "references":
      state.references = { hashes: event.images.map((image) => image.hash), isUsedByGenerator: event.isUsedByGenerator, note: event.note };
      break;
    case "iteration.started": {
      const it = iteration(state, event.n);
      it.prompt = event.prompt;
      it.thought = event.thought;
      it.edit = event.edit ?? null;
      state.progress = event.edit ? `Iteration ${event.n}: editing iteration ${event.edit.fromN}'s image…` : `Iteration ${event.n}: generating the image…`;
      break;
    }
    case "image.preview": {
      const it = iteration(state, event.n);
      // The final image (or a failure) always wins over a preview, whatever order a replay brings.
      if (it.imageHash || it.error) break;
      it.preview = { percent: event.percent, imageHash: event.image?.hash ?? it.preview?.imageHash ?? null };
      state.progress = `Iteration ${event.n}: drawing, ${event.percent}% done…`;
      break;
    }
    case "image.ready":
      iteration(state, event.n).imageHash = event.image.hash;
      iteration(state, event.n).preview = null;
      state.progress = `Iteration ${event.n}: image ready, checking the requirements…`;
      break;
    case "iteration.failed":
      iteration(state, event.n).error = event.error;
      iteration(state, event.n).preview = null;
      state.progress = `Iteration ${event.n} failed: ${event.error}`;
      break;
    case "verified": {
      const it = iteration(state, event.n);
      it.verdicts = new Map(event.verdicts.map((v) => [v.requirementId, v]));
      // Events stored before regressions were counted lack them; checklistOf derives them then.
      it.regressions = event.regressions ?? null;
      it.passed = event.passed;
      it.total = event.total;
      state.progress = `Iteration ${event.n}: ${event.passed} of ${event.total} passed.`;
      break;
    }
    case "experience":
      iteration(state, event.n).experience = event.text;
      state.progress = `Iteration ${event.n}: lesson noted; refining the prompt…`;
      break;
    case "feedback.added":
      for (const q of event.questions) state.requirements.set(q.id, { ...q, retired: false });
      for (const q of event.retired) {
        const known = state.requirements.get(q.id);
        state.requirements.set(q.id, { ...(known ?? q), retired: true });
      }
      state.feedback.push({ author: event.author, text: event.text, questions: event.questions });
      state.progress = `${event.author}'s feedback added ${plural(event.questions.length, "question")} to the checklist.`;
      break;
    case "prompt.refined": {
      const previous = state.iterations.get(event.n - 1);
      if (previous) previous.nextPrompt = event.prompt;
      state.progress = `Prompt refined for iteration ${event.n}.`;
      break;
    }
    case "job.done":
    case "job.failed":
    case "job.cancelled":
      for (const it of state.iterations.values()) it.preview = null;
      state.status = event.type === "job.done" ? "done" : event.type === "job.failed" ? "failed" : "cancelled";
      state.best = event.best;
      state.stopReason = event.type === "job.done" ? event.reason : event.type === "job.cancelled" ? "stopped" : null;
      state.error = event.type === "job.failed" ? event.error : null;
      state.stopMessage = event.type === "job.done" ? (event.message ?? null) : null;
      state.position = null;
      if (event.type === "job.done" && event.votes) setVotes(state, event.votes);
      state.isChosenByVotes = event.type === "job.done" && event.isChosenByVotes === true;
      state.isVotedAfterEnd = false;
      state.usage = event.usage ?? null;
      state.progress = doneText(state);
      break;
    case "votes.changed":
      // Votes cast after the job ended (core/jobs/voting.ts): the counts now, on the cards and
      // in the end line, which the page shows for a finished job.
      setVotes(state, event.votes);
      state.isVotedAfterEnd = true;
      if (state.status === "done") state.progress = doneText(state);
      break;
    default:
      // A newer server may send event types this page does not know; they are skipped.
      break;
  }
  return true;
}

/** The latest verdict on each requirement, from the newest verified iteration that asked it. */
export function latestVerdicts(state) {
  const latest = new Map();
  const ordered = [...state.iterations.values()].sort((a, b) => a.n - b.n);
  for (const it of ordered) {
    if (!it.verdicts) continue;
    for (const [id, verdict] of it.verdicts) latest.set(id, { ...verdict, n: it.n });
  }
  return latest;
}

/**
 * Requirement ids that failed in iteration n and passed in any earlier one, and are still
 * checked: core/memory/checklist.ts's regressedRequirementIds, for events that predate them.
 */
export function regressionsOf(state, n) {
  const it = state.iterations.get(n);
  if (!it?.verdicts) return [];
  const isActive = (id) => !state.requirements.get(id)?.retired;
  if (it.regressions) return it.regressions.filter(isActive);
  const passedBefore = new Set();
  for (const earlier of state.iterations.values()) {
    if (earlier.n >= n || !earlier.verdicts) continue;
    for (const v of earlier.verdicts.values()) if (v.passed) passedBefore.add(v.requirementId);
  }
  return [...it.verdicts.values()].filter((v) => !v.passed && passedBefore.has(v.requirementId) && isActive(v.requirementId)).map((v) => v.requirementId);
}

/**
 * An iteration's checklist as every surface shows it (core/memory/checklist.ts's checklistLines):
 * each active requirement marked passed, failed, regressed or unchecked, then the retired ones
 * this image was asked; `passed`/`total` count the active rows, so a header matches its lines.
 */
export function checklistOf(state, it) {
  const verdicts = it.verdicts ?? new Map();
  const regressed = new Set(regressionsOf(state, it.n));
  const rows = [];
  const retiredRows = [];
  for (const r of state.requirements.values()) {
    const verdict = verdicts.get(r.id);
    if (r.retired) {
      if (verdict) retiredRows.push({ requirementId: r.id, question: r.question, mark: "retired", verdict });
    } else if (!verdict) {
      rows.push({ requirementId: r.id, question: r.question, mark: "unchecked" });
    } else {
      rows.push({ requirementId: r.id, question: r.question, mark: verdict.passed ? "passed" : regressed.has(r.id) ? "regressed" : "failed", verdict });
    }
  }
  for (const v of verdicts.values()) {
    if (state.requirements.has(v.requirementId)) continue;
    rows.push({ requirementId: v.requirementId, question: `Requirement ${v.requirementId}`, mark: v.passed ? "passed" : regressed.has(v.requirementId) ? "regressed" : "failed", verdict: v });
  }
  return {
    rows: [...rows, ...retiredRows],
    passed: rows.filter((r) => r.mark === "passed").length,
    total: rows.length,
    regressed: rows.filter((r) => r.mark === "regressed").length,
    retired: retiredRows.length,
  };
}

/** The job's cost line, as the chat surfaces show it (core/jobs/usage-ledger.ts formatCostLine). */
export function costText(usage) {
  const n = (x) => x.toLocaleString("en-US");
  const amounts = `${n(usage.inputTokens)} tokens in, ${n(usage.outputTokens)} out, ${usage.images} image${usage.images === 1 ? "" : "s"}`;
  if (usage.cost === null) return `Usage: ${amounts} (no price set for ${usage.unpriced.join(", ") || "these models"})`;
  return `Cost: ${formatMoney(usage.cost, usage.currency)} (${amounts}${usage.unpriced.length > 0 ? `; no price for ${usage.unpriced.join(", ")}` : ""})`;
}

export function formatMoney(amount, currency) {
  const text = amount.toFixed(amount !== 0 && Math.abs(amount) < 1 ? 4 : 2);
  return currency === "USD" || currency === "$" ? `$${text}` : `${text} ${currency}`;
}
