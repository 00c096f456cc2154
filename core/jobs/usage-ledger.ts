/**
 * The usage ledger: what each job spent (MLLM tokens as the servers reported them, images
 * drawn) and, through a price table, what it cost — per job, person, surface and channel — and
 * the daily quotas' limits and refusals (the check that reads the day's jobs is usage-quota.ts,
 * wired to a service by service-quota.ts). Nothing is written here: the ledger is derived from the
 * job records (trajectory usage and iterations, requester, surface reference) through the job
 * service's own read interface, so it holds wherever the records are stored and across workers.
 */
import type { UsageView } from "../agent/events.ts";
import type { ModelNames, Trajectory } from "../memory/trajectory.ts";
import type { JobRecord, JobStatus, JobSummary, Person, Result, SurfaceRef } from "./types.ts";

/** Prices of one model: tokens per 1M, images each. A missing field is a price of 0. */
export interface ModelPrice {
  input?: number;
  /** Input tokens served from the prefix cache; defaults to `input`. */
  cachedInput?: number;
  output?: number;
  image?: number;
}

export interface PriceTable {
  /** ISO code or symbol shown with amounts, e.g. "USD". */
  currency: string;
  /** By the model name the adapters report (`Mllm.name`, `ImageGenerator.name`). */
  models: Record<string, ModelPrice>;
}

export const NO_PRICES: PriceTable = Object.freeze({ currency: "USD", models: Object.freeze({}) }) as PriceTable;

/** Which models did the work: the trajectory's own (kept since provenance), else the running ones. */
export type { ModelNames };

export interface UsageCounts {
  calls: number;
  /** Calls whose reply carried token counts; the tokens cover only these. */
  reportedCalls: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  /** Images the generator drew (iterations with a stored image). */
  images: number;
}

/** What one job spent. `cost` is null when no model it used has a price. */
export interface JobUsage extends UsageCounts {
  jobId: string;
  personId: string;
  personName: string;
  surface: string;
  /** "<surface>:<channel id>" where the surface has channels (Discord, Slack); null otherwise. */
  channel: string | null;
  createdAt: string;
  cost: number | null;
  currency: string;
  /** Models that did work here but have no price; their part is not in `cost`. */
  unpriced: string[];
}

/** The shape a final message shows: tokens, images, and the money when priced. */
export type JobCostView = UsageView;

export const emptyCounts = (): UsageCounts => ({ calls: 0, reportedCalls: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, images: 0 });

/** The trajectory's usage summed over iterations and roles, plus the images drawn. */
export function countsOf(t: Pick<Trajectory, "usage" | "iterations">): UsageCounts {
  return countsFrom(t.usage, t.iterations.filter((i) => i.imageHash !== null).length);
}

/** Usage records summed, with the number of images drawn (counted by whoever read the iterations). */
export function countsFrom(usage: Trajectory["usage"], images: number): UsageCounts {
  const counts = emptyCounts();
  for (const u of usage) {
    counts.calls += u.calls;
    counts.reportedCalls += u.reportedCalls;
    counts.inputTokens += u.inputTokens;
    counts.cachedInputTokens += u.cachedInputTokens;
    counts.outputTokens += u.outputTokens;
  }
  counts.images = images;
  return counts;
}

/**
 * Adapters name themselves "<kind>:<model or host>" ("openai-compatible:qwen3-vl",
 * "gems-http:gpu-1:8000"): the full name, the part after the kind, or the kind alone may be priced.
 */
function findPrice(prices: PriceTable, name: string): ModelPrice | undefined {
  const colon = name.indexOf(":");
  const keys = colon < 0 ? [name] : [name, name.slice(colon + 1), name.slice(0, colon)];
  const key = keys.find((k) => Object.hasOwn(prices.models, k));
  return key === undefined ? undefined : prices.models[key];
}

export function priceOf(counts: UsageCounts, models: ModelNames, prices: PriceTable): { cost: number | null; unpriced: string[] } {
  let cost = 0;
  let isPriced = false;
  const unpriced: string[] = [];
  const mllm = findPrice(prices, models.mllm);
  if (counts.calls > 0) {
    if (mllm) {
      isPriced = true;
      const fresh = Math.max(0, counts.inputTokens - counts.cachedInputTokens);
      cost += (fresh * (mllm.input ?? 0) + counts.cachedInputTokens * (mllm.cachedInput ?? mllm.input ?? 0) + counts.outputTokens * (mllm.output ?? 0)) / 1e6;
    } else unpriced.push(models.mllm);
  }
  const generator = findPrice(prices, models.generator);
  if (counts.images > 0) {
    if (generator) {
      isPriced = true;
      cost += counts.images * (generator.image ?? 0);
    } else if (!unpriced.includes(models.generator)) unpriced.push(models.generator);
  }
  return { cost: isPriced ? cost : null, unpriced };
}

/** `models`: used for records from before trajectories named their models. */
export function costViewOf(t: Pick<Trajectory, "usage" | "iterations" | "models">, models: ModelNames, prices: PriceTable): JobCostView {
  const counts = countsOf(t);
  return { ...counts, ...priceOf(counts, t.models ?? models, prices), currency: prices.currency };
}

/** "$0.0123" or "0.0123 EUR": small amounts keep four decimals so a cheap job is not shown as 0. */
export function formatMoney(amount: number, currency: string): string {
  const digits = amount !== 0 && Math.abs(amount) < 1 ? 4 : 2;
  const text = amount.toFixed(digits);
  return currency === "USD" || currency === "$" ? `$${text}` : `${text} ${currency}`;
}

const grouped = (n: number): string => n.toLocaleString("en-US");

/** One line for a final message: "Cost: $0.0420 (12,345 tokens in, 678 out, 3 images)". */
export function formatCostLine(view: JobCostView): string {
  const parts = [`${grouped(view.inputTokens)} tokens in`, `${grouped(view.outputTokens)} out`, `${view.images} image${view.images === 1 ? "" : "s"}`];
  const amounts = `${parts.join(", ")}${view.reportedCalls < view.calls ? `; ${view.calls - view.reportedCalls} call(s) without token counts` : ""}`;
  if (view.cost === null) return `Usage: ${amounts} (no price set for ${view.unpriced.join(", ") || "these models"})`;
  const missing = view.unpriced.length > 0 ? `; no price for ${view.unpriced.join(", ")}` : "";
  return `Cost: ${formatMoney(view.cost, view.currency)} (${amounts}${missing})`;
}

// ---- quotas ---------------------------------------------------------------------------------

/** A daily limit: images drawn, or money spent (in the price table's currency). */
export type QuotaLimit = { kind: "images"; images: number } | { kind: "money"; amount: number };

export interface Quotas {
  personDaily: QuotaLimit | null;
  channelDaily: QuotaLimit | null;
}

export const NO_QUOTAS: Quotas = Object.freeze({ personDaily: null, channelDaily: null });

/** A job's own quota check: a message when it may not go on, null when it may. */
export type QuotaCheck = (requester: Person, surfaceRef: SurfaceRef) => string | null | Promise<string | null>;

// ---- the ledger -----------------------------------------------------------------------------

/** The part of the job service the ledger reads; any JobService is one, and so is usageSourceOf(records). */
export interface UsageSource {
  /** Newest first. */
  list(requesterId?: string): Array<Pick<JobSummary, "jobId" | "createdAt">>;
  status(jobId: string): Result<{ job: Pick<JobStatus, "jobId" | "requester" | "surfaceRef" | "createdAt" | "trajectory"> }>;
}

/** Stored records as a usage source, for reading a data directory without running the service (`gems usage`). */
export function usageSourceOf(records: readonly JobRecord[]): UsageSource {
  const byId = new Map(records.map((r) => [r.jobId, r]));
  const newestFirst = [...records].sort((a, b) => b.trajectory.createdAt.localeCompare(a.trajectory.createdAt));
  return {
    list: (requesterId) =>
      newestFirst.filter((r) => requesterId === undefined || r.requester.id === requesterId).map((r) => ({ jobId: r.jobId, createdAt: r.trajectory.createdAt })),
    status: (jobId) => {
      const r = byId.get(jobId);
      if (!r) return { ok: false, reason: "not-found", message: `There is no job ${jobId}.` };
      return { ok: true, job: { jobId: r.jobId, requester: r.requester, surfaceRef: r.surfaceRef, createdAt: r.trajectory.createdAt, trajectory: r.trajectory } };
    },
  };
}

export interface UsageFilter {
  /** Jobs created at or after this instant. */
  since?: Date;
  personId?: string;
  channel?: string;
}

export type UsageTotals = UsageCounts & { jobs: number; cost: number | null; unpriced: string[] };

export interface UsageReport {
  since: string | null;
  currency: string;
  total: UsageTotals;
  /** Most expensive (then most images) first. */
  byPerson: Array<UsageTotals & { personId: string; personName: string }>;
  /** Oldest first, UTC days (YYYY-MM-DD), only days with jobs. */
  byDay: Array<UsageTotals & { day: string }>;
}

export interface UsageLedger {
  /** Each job's usage, oldest first. */
  jobs(filter?: UsageFilter): JobUsage[];
  report(filter?: UsageFilter): UsageReport;
  readonly prices: PriceTable;
  readonly quotas: Quotas;
}

export interface UsageLedgerOptions {
  jobs: UsageSource;
  /** For jobs stored before trajectories named their models. */
  models: ModelNames;
  prices?: PriceTable;
  quotas?: Quotas;
}

/** What a surface needs for `/gems usage`: the ledger, and who sees the whole team. */
export interface UsageAccess {
  ledger: UsageLedger;
  admins: readonly string[];
}

/** The channel a surface reference belongs to, as the ledger keys it. */
export function channelOf(ref: SurfaceRef): string | null {
  const id = typeof ref["channelId"] === "string" ? ref["channelId"] : typeof ref["channel"] === "string" ? ref["channel"] : null;
  return id === null ? null : `${ref.surface}:${id}`;
}

export const startOfUtcDay = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));

export function createUsageLedger(options: UsageLedgerOptions): UsageLedger {
  const prices = options.prices ?? NO_PRICES;
  const quotas = options.quotas ?? NO_QUOTAS;

  function jobs(filter: UsageFilter = {}): JobUsage[] {
    const sinceMs = filter.since?.getTime() ?? -Infinity;
    const usages: JobUsage[] = [];
    // list() is newest first and cheap; the trajectory is read only for jobs in range.
    for (const summary of filter.personId !== undefined ? options.jobs.list(filter.personId) : options.jobs.list()) {
      if (Date.parse(summary.createdAt) < sinceMs) continue;
      const found = options.jobs.status(summary.jobId);
      if (!found.ok) continue;
      const usage = usageOfJob(found.job, options.models, prices);
      if (filter.channel !== undefined && usage.channel !== filter.channel) continue;
      usages.push(usage);
    }
    return usages.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  function report(filter: UsageFilter = {}): UsageReport {
    const all = jobs(filter);
    const byPerson = new Map<string, UsageTotals & { personId: string; personName: string }>();
    const byDay = new Map<string, UsageTotals & { day: string }>();
    const total = emptyTotals();
    for (const job of all) {
      addTo(total, job);
      const person = byPerson.get(job.personId) ?? { ...emptyTotals(), personId: job.personId, personName: job.personName };
      addTo(person, job);
      byPerson.set(job.personId, person);
      const day = job.createdAt.slice(0, 10);
      const daily = byDay.get(day) ?? { ...emptyTotals(), day };
      addTo(daily, job);
      byDay.set(day, daily);
    }
    return {
      since: filter.since?.toISOString() ?? null,
      currency: prices.currency,
      total,
      byPerson: [...byPerson.values()].sort((a, b) => (b.cost ?? 0) - (a.cost ?? 0) || b.images - a.images),
      byDay: [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day)),
    };
  }

  return { jobs, report, prices, quotas };
}

/** One job's usage, priced by the models its trajectory names (else `models`). */
export function usageOfJob(job: Pick<JobStatus, "jobId" | "requester" | "surfaceRef" | "createdAt" | "trajectory">, models: ModelNames, prices: PriceTable): JobUsage {
  return jobUsageFrom(job, countsOf(job.trajectory), job.trajectory.models ?? models, prices);
}

/** A job's usage from its counts, however they were read; `models`: the ones that did the work. */
export function jobUsageFrom(job: Pick<JobStatus, "jobId" | "requester" | "surfaceRef" | "createdAt">, counts: UsageCounts, models: ModelNames, prices: PriceTable): JobUsage {
  return {
    jobId: job.jobId,
    personId: job.requester.id,
    personName: job.requester.name,
    surface: job.surfaceRef.surface,
    channel: channelOf(job.surfaceRef),
    createdAt: job.createdAt,
    ...counts,
    ...priceOf(counts, models, prices),
    currency: prices.currency,
  };
}

/**
 * The refusal for a person (then a channel) whose jobs of today, UTC, reached a daily quota;
 * null when neither did. `spent`: those jobs' usage, null where no quota applies (no limit set,
 * or a surface without channels).
 */
export function quotaMessage(quotas: Quotas, prices: PriceTable, at: Date, spent: { person: JobUsage[] | null; channel: JobUsage[] | null }): string | null {
  const resetIn = describeWait(startOfUtcDay(at).getTime() + 86_400_000 - at.getTime());
  const personOver = quotas.personDaily && spent.person ? overBy(quotas.personDaily, sum(spent.person), prices) : null;
  if (personOver) return `You have used ${personOver} today (UTC), your daily quota. It resets at 00:00 UTC, in ${resetIn}.`;
  const channelOver = quotas.channelDaily && spent.channel ? overBy(quotas.channelDaily, sum(spent.channel), prices) : null;
  if (channelOver) return `This channel has used ${channelOver} today (UTC), its daily quota. It resets at 00:00 UTC, in ${resetIn}.`;
  return null;
}

/** "50 of 50 images" or "$5.01 of $5.00" when the limit is reached; null below it. */
function overBy(limit: QuotaLimit, spent: UsageTotals, prices: PriceTable): string | null {
  if (limit.kind === "images") return spent.images >= limit.images ? `${spent.images} of ${limit.images} images` : null;
  const cost = spent.cost ?? 0;
  return cost >= limit.amount ? `${formatMoney(cost, prices.currency)} of ${formatMoney(limit.amount, prices.currency)}` : null;
}

function emptyTotals(): UsageTotals {
  return { ...emptyCounts(), jobs: 0, cost: null, unpriced: [] };
}

function addTo(totals: UsageTotals, job: JobUsage): void {
  totals.jobs++;
  totals.calls += job.calls;
  totals.reportedCalls += job.reportedCalls;
  totals.inputTokens += job.inputTokens;
  totals.cachedInputTokens += job.cachedInputTokens;
  totals.outputTokens += job.outputTokens;
  totals.images += job.images;
  if (job.cost !== null) totals.cost = (totals.cost ?? 0) + job.cost;
  for (const model of job.unpriced) if (!totals.unpriced.includes(model)) totals.unpriced.push(model);
}

function sum(jobs: JobUsage[]): UsageTotals {
  const totals = emptyTotals();
  for (const job of jobs) addTo(totals, job);
  return totals;
}

function describeWait(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Report lines for chat and the CLI: the total, then one line per person when asked. */
export function formatReport(report: UsageReport, options: { isByPerson: boolean; title: string }): string[] {
  const line = (t: UsageTotals): string => {
    const money = t.cost !== null ? `${formatMoney(t.cost, report.currency)}, ` : "";
    const missing = t.unpriced.length > 0 ? ` (no price for ${t.unpriced.join(", ")})` : "";
    return `${money}${t.jobs} job${t.jobs === 1 ? "" : "s"}, ${t.images} image${t.images === 1 ? "" : "s"}, ${grouped(t.inputTokens)} tokens in, ${grouped(t.outputTokens)} out${missing}`;
  };
  const lines = [`${options.title}: ${line(report.total)}`];
  if (options.isByPerson) for (const person of report.byPerson) lines.push(`• ${person.personName} (${person.personId}): ${line(person)}`);
  return lines;
}

export const USAGE_DEFAULT_DAYS = 7;
export const USAGE_MAX_DAYS = 366;

/**
 * What `/gems usage` answers in chat: the person's own usage over the last `days` days, or,
 * for admins, the team's with a line per person. Quotas in force are named at the end.
 */
export function usageAnswer(access: UsageAccess, person: Person, days: number, at: Date = new Date()): string[] {
  const since = new Date(at.getTime() - days * 86_400_000);
  const isAdmin = access.admins.includes(person.id);
  const report = access.ledger.report(isAdmin ? { since } : { since, personId: person.id });
  const period = days === 1 ? "the last day" : `the last ${days} days`;
  const lines = formatReport(report, { isByPerson: isAdmin, title: isAdmin ? `The team, ${period}` : `Your usage, ${period}` });
  const { personDaily, channelDaily } = access.ledger.quotas;
  const quota = (q: QuotaLimit): string => (q.kind === "images" ? `${q.images} images` : formatMoney(q.amount, access.ledger.prices.currency));
  const quotas = [personDaily ? `${quota(personDaily)} per person` : null, channelDaily ? `${quota(channelDaily)} per channel` : null].filter(Boolean);
  if (quotas.length > 0) lines.push(`Daily quotas (UTC days): ${quotas.join(", ")}.`);
  return lines;
}
