/**
 * Does a skill help? Per skill, from finished jobs: how many used it, how often every
 * requirement passed, and how many images a success took; beside it, the same numbers for jobs
 * that used no skill on similar prompts.
 *
 * "Similar" is kept simple and stated: the same size bucket of requirements (1–3, 4–6, 7 or
 * more checks), since the number of checks drives how hard a prompt is far more than its
 * topic. The baseline is weighted by the skill's own mix of buckets, so a skill used on hard
 * prompts is compared with hard prompts. Only jobs that ended on their own or by pick count
 * (done); failed and stopped jobs say nothing about a skill.
 */
import type { Trajectory } from "../memory/trajectory.ts";

export interface SkillStat {
  /** A skill id, or null for the jobs that used none. */
  skill: string | null;
  jobs: number;
  /** Jobs whose best image passed every requirement, over jobs. */
  passRate: number | null;
  /** Images generated per job that passed everything. */
  imagesPerSuccess: number | null;
  /** The same two numbers for no-skill jobs of the same size buckets; null when there are none. */
  baseline: { jobs: number; passRate: number | null; imagesPerSuccess: number | null } | null;
}

type Bucket = "1-3" | "4-6" | "7+";

function bucketOf(t: Trajectory): Bucket | null {
  const count = t.requirements?.length ?? 0;
  if (count === 0) return null;
  return count <= 3 ? "1-3" : count <= 6 ? "4-6" : "7+";
}

interface Tally {
  jobs: number;
  passed: number;
  imagesOfPassed: number;
}

const empty = (): Tally => ({ jobs: 0, passed: 0, imagesOfPassed: 0 });

function add(tally: Tally, t: Trajectory): void {
  tally.jobs += 1;
  const best = t.best;
  if (best && best.total > 0 && best.passed === best.total) {
    tally.passed += 1;
    tally.imagesOfPassed += t.iterations.length;
  }
}

export function computeSkillStats(trajectories: Iterable<Trajectory>): SkillStat[] {
  const perSkill = new Map<string | null, Map<Bucket, Tally>>();
  for (const t of trajectories) {
    if (t.status !== "done" || !t.plan) continue;
    const bucket = bucketOf(t);
    if (!bucket) continue;
    const skill = t.plan.skill;
    const buckets = perSkill.get(skill) ?? new Map<Bucket, Tally>();
    perSkill.set(skill, buckets);
    const tally = buckets.get(bucket) ?? empty();
    buckets.set(bucket, tally);
    add(tally, t);
  }
  const none = perSkill.get(null) ?? new Map<Bucket, Tally>();
  const stats: SkillStat[] = [];
  for (const [skill, buckets] of perSkill) {
    const total = sum([...buckets.values()]);
    let baseline: SkillStat["baseline"] = null;
    if (skill !== null) {
      // Weighted by this skill's jobs per bucket, over the buckets where no-skill jobs exist.
      let weight = 0;
      let passRate = 0;
      let images = 0;
      let imagesWeight = 0;
      let baseJobs = 0;
      for (const [bucket, tally] of buckets) {
        const base = none.get(bucket);
        if (!base || base.jobs === 0) continue;
        weight += tally.jobs;
        baseJobs += base.jobs;
        passRate += tally.jobs * (base.passed / base.jobs);
        if (base.passed > 0) {
          images += tally.jobs * (base.imagesOfPassed / base.passed);
          imagesWeight += tally.jobs;
        }
      }
      if (weight > 0) baseline = { jobs: baseJobs, passRate: passRate / weight, imagesPerSuccess: imagesWeight > 0 ? images / imagesWeight : null };
    }
    stats.push({
      skill,
      jobs: total.jobs,
      passRate: total.jobs > 0 ? total.passed / total.jobs : null,
      imagesPerSuccess: total.passed > 0 ? total.imagesOfPassed / total.passed : null,
      baseline,
    });
  }
  return stats.sort((a, b) => (a.skill === null ? 1 : b.skill === null ? -1 : a.skill.localeCompare(b.skill)));
}

function sum(tallies: Tally[]): Tally {
  return tallies.reduce((acc, t) => ({ jobs: acc.jobs + t.jobs, passed: acc.passed + t.passed, imagesOfPassed: acc.imagesOfPassed + t.imagesOfPassed }), empty());
}

/** One line per skill for chat: "spatial-layout — 12 jobs, 75% all passed, 2.1 images per success (no skill, similar prompts: 50%, 3.0)". */
export function describeSkillStat(stat: SkillStat): string {
  const pct = (v: number | null) => (v === null ? "–" : `${Math.round(v * 100)}%`);
  const num = (v: number | null) => (v === null ? "–" : v.toFixed(1));
  const own = `${stat.jobs} job${stat.jobs === 1 ? "" : "s"}, ${pct(stat.passRate)} all passed, ${num(stat.imagesPerSuccess)} images per success`;
  if (stat.skill === null) return `no skill — ${own}`;
  const base = stat.baseline ? ` (no skill on similar prompts: ${pct(stat.baseline.passRate)}, ${num(stat.baseline.imagesPerSuccess)})` : " (no no-skill jobs of similar size yet)";
  return `${stat.skill} — ${own}${base}`;
}
