/**
 * How memory is shown: to the models (result lines, feedback) and in events (requirements, best).
 */
import { activeRequirements, type BestImage, type IterationRecord, type Requirement, type Trajectory } from "../memory/trajectory.ts";
import type { BestView, RequirementView } from "./events.ts";
import type { FeedbackView, ResultLine } from "./prompts.ts";

export function resultLines(t: Trajectory, iteration: IterationRecord): ResultLine[] {
  const verdicts = new Map(iteration.verdicts.map((v) => [v.requirementId, v]));
  return activeRequirements(t).map((r) => {
    const verdict = verdicts.get(r.id);
    const why = verdict ? verdict.failure : "not checked on this image";
    return { id: r.id, question: r.question, passed: verdict?.passed ?? false, ...(why ? { why } : {}) };
  });
}

export const feedbackViews = (t: Trajectory): FeedbackView[] => t.feedback.map((f) => ({ author: f.author, text: f.text }));

export const requirementView = (r: Requirement): RequirementView => ({ id: r.id, question: r.question, source: r.source });

export function bestView(best: BestImage | null): BestView | null {
  return best ? { n: best.n, image: { hash: best.imageHash }, passed: best.passed, total: best.total } : null;
}

