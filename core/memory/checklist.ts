/**
 * What an iteration's checklist shows, derived from the stored verdicts: which requirements
 * passed, which failed, which failed after passing before (a regression), and which feedback
 * replaced. One derivation for every surface, so a header's "5/8" always sits over the lines
 * it counts.
 *
 * "Passed before" means: passed in ANY earlier iteration of the job, not only in the best one.
 * The refiner sees every earlier attempt and is told not to lose what passed, so losing a
 * requirement that any earlier image met is what a person wants flagged. It also keeps the
 * mark stable: it depends on iterations 1..n alone, so a message rendered once stays right when
 * a later iteration or a rescore after feedback changes which image is best.
 */
import type { Verdict } from "./trajectory.ts";

/** The least an iteration must expose for its regressions to be derived. */
export interface VerdictHistory {
  n: number;
  verdicts: readonly Verdict[];
}

/**
 * Ids of the requirements that failed in iteration `n` and passed in some earlier iteration,
 * in the order of n's verdicts. A requirement for which `isActive` is false (feedback replaced
 * it) is never a regression: it is not checked any more.
 */
export function regressedRequirementIds(
  history: readonly VerdictHistory[],
  n: number,
  isActive: (requirementId: number) => boolean = () => true,
): number[] {
  const current = history.find((it) => it.n === n);
  if (!current) return [];
  const passedBefore = new Set<number>();
  for (const it of history) {
    if (it.n >= n) continue;
    for (const v of it.verdicts) if (v.passed) passedBefore.add(v.requirementId);
  }
  return current.verdicts.filter((v) => !v.passed && passedBefore.has(v.requirementId) && isActive(v.requirementId)).map((v) => v.requirementId);
}

export type ChecklistMark = "passed" | "failed" | "regressed" | "unchecked" | "retired";

export interface ChecklistRow {
  requirementId: number;
  question: string;
  mark: ChecklistMark;
  /** The verdict behind the mark; absent for "unchecked". */
  verdict?: Verdict;
}

export interface ChecklistLines {
  /** Active requirements first (checklist order), then the retired ones this image was asked. */
  rows: ChecklistRow[];
  /** Passes among the active requirements: the header's numerator. */
  passed: number;
  /** Active requirements: the header's denominator, and the number of non-retired rows. */
  total: number;
  regressed: number;
  retired: number;
}

/** A requirement as any surface knows it; `retired` when feedback replaced it. */
export interface ChecklistRequirement {
  id: number;
  question: string;
  retired: boolean;
}

/**
 * The rows of one iteration's checklist. Every active requirement gets a row (a question the
 * image was never asked, because feedback added it later, is "unchecked" and counts as not
 * passed, as rescoring in core/agent does); a retired requirement appears, as "retired", only
 * when this image was asked it. `regressedIds` comes from the stored iteration or the `verified`
 * event; callers without it derive it with regressedRequirementIds.
 */
export function checklistLines(
  requirements: readonly ChecklistRequirement[],
  verdicts: readonly Verdict[],
  regressedIds: readonly number[],
): ChecklistLines {
  const byId = new Map(verdicts.map((v) => [v.requirementId, v]));
  const regressed = new Set(regressedIds);
  const known = new Set(requirements.map((r) => r.id));
  const rows: ChecklistRow[] = [];
  const retiredRows: ChecklistRow[] = [];
  for (const r of requirements) {
    const verdict = byId.get(r.id);
    if (r.retired) {
      if (verdict) retiredRows.push({ requirementId: r.id, question: r.question, mark: "retired", verdict });
      continue;
    }
    if (!verdict) {
      rows.push({ requirementId: r.id, question: r.question, mark: "unchecked" });
      continue;
    }
    const mark: ChecklistMark = verdict.passed ? "passed" : regressed.has(r.id) ? "regressed" : "failed";
    rows.push({ requirementId: r.id, question: r.question, mark, verdict });
  }
  // A verdict on a requirement the surface never heard of (an event it missed) still shows.
  for (const v of verdicts) {
    if (known.has(v.requirementId)) continue;
    const mark: ChecklistMark = v.passed ? "passed" : regressed.has(v.requirementId) ? "regressed" : "failed";
    rows.push({ requirementId: v.requirementId, question: `requirement ${v.requirementId}`, mark, verdict: v });
  }
  const active = rows.length;
  return {
    rows: [...rows, ...retiredRows],
    passed: rows.filter((r) => r.mark === "passed").length,
    total: active,
    regressed: rows.filter((r) => r.mark === "regressed").length,
    retired: retiredRows.length,
  };
}
