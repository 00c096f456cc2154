/**
 * Feedback into memory: a person's words become an entry, new checklist questions and retired
 * ones, and every image is scored again against the changed checklist.
 */
import type { ImageStore } from "../memory/stores.ts";
import { activeRequirements, type BestImage, type FeedbackEntry, type Requirement, type Trajectory } from "../memory/trajectory.ts";
import { regressedRequirementIds } from "../memory/checklist.ts";
import { decomposeFeedback } from "./roles.ts";
import { feedbackAuthorName, validateFeedbackText } from "./request.ts";
import { addUsage, meterMllm } from "./usage.ts";
import type { AgentDeps, FeedbackInput } from "./run-job.ts";
import { requirementView } from "./memory-views.ts";

/**
 * Adds a person's feedback to the job's memory: the entry itself, the questions it adds to the
 * checklist and the ones it retires. Works on running and finished jobs alike.
 */
export async function applyFeedback(
  t: Trajectory,
  input: FeedbackInput,
  deps: Pick<AgentDeps, "mllm" | "commit"> & { images?: ImageStore },
  signal?: AbortSignal,
  now: () => Date = () => new Date(),
): Promise<FeedbackEntry> {
  const text = validateFeedbackText(input.text);
  const author = feedbackAuthorName(input.author);
  const active = activeRequirements(t);
  const metered = meterMllm(deps.mllm);
  const imageHashes = [...new Set(input.imageHashes ?? [])];
  const attached = deps.images && imageHashes.length > 0 ? await Promise.all(imageHashes.map((hash) => deps.images!.get(hash))) : [];
  const edit = input.isNote
    ? { questions: [] as string[], replaces: [] as number[] }
    : await decomposeFeedback(metered.mllm, t.request.prompt, active.map((r) => ({ id: r.id, question: r.question })), { author, text }, signal, attached);
  const requirements = t.requirements ?? [];
  const entryId = t.feedback.length + 1;
  const known = new Set(requirements.map((r) => r.question.toLowerCase()));
  let nextId = requirements.reduce((max, r) => Math.max(max, r.id), 0) + 1;
  const added: Requirement[] = edit.questions
    .filter((question) => !known.has(question.toLowerCase()))
    .map((question) => ({ id: nextId++, question, source: "feedback", feedbackId: entryId }));
  const retired = requirements.filter((r) => edit.replaces.includes(r.id) && r.retiredByFeedbackId === undefined);
  for (const requirement of retired) requirement.retiredByFeedbackId = entryId;
  t.requirements = [...requirements, ...added];
  const entry: FeedbackEntry = {
    id: entryId,
    author,
    text,
    atIteration: t.iterations.length,
    requirementIds: added.map((r) => r.id),
    retiredRequirementIds: retired.map((r) => r.id),
    addedAt: now().toISOString(),
    ...(imageHashes.length > 0 ? { imageHashes } : {}),
  };
  t.feedback.push(entry);
  // The refined prompt was written before this feedback existed; write it again with it.
  if (t.status === "running" && t.iterations.length > 0) t.nextPrompt = null;
  rescore(t);
  addUsage(t, t.iterations.length, metered.take());
  t.updatedAt = now().toISOString();
  await deps.commit(t, [
    {
      type: "feedback.added",
      author,
      text,
      ...(imageHashes.length > 0 ? { images: imageHashes.map((hash) => ({ hash })) } : {}),
      questions: added.map(requirementView),
      retired: retired.map(requirementView),
    },
  ]);
  return entry;
}

/**
 * Scores every iteration against the current checklist, so images stay comparable after
 * feedback changes it: a question an older image was never asked counts as not passed.
 * Best is the image with the most passes; the earliest wins a tie. Regressions are counted
 * again too, since a retired requirement is no longer one.
 */
export function rescore(t: Trajectory): void {
  const active = activeRequirements(t);
  const activeIds = new Set(active.map((r) => r.id));
  let best: BestImage | null = null;
  for (const it of t.iterations) {
    const passedIds = new Set(it.verdicts.filter((v) => v.passed).map((v) => v.requirementId));
    it.total = active.length;
    it.passed = active.filter((r) => passedIds.has(r.id)).length;
    it.regressions = regressedRequirementIds(t.iterations, it.n, (id) => activeIds.has(id));
    if (it.imageHash !== null && it.isVerified && (best === null || it.passed > best.passed)) {
      best = { n: it.n, imageHash: it.imageHash, passed: it.passed, total: it.total };
    }
  }
  t.best = best;
}

