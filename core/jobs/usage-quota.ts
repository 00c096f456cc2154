/**
 * The daily quota check the job service asks at submit and before each iteration (its `quota`
 * dependency). It reads only the jobs that count: those one person, or one channel, created
 * on the current UTC day, through a `DayUsage`:
 *   - createDayIndex: one process (SQLite) — job ids indexed by day, person and channel, kept
 *     current by wrapping submit and setSurfaceRef, so a check never walks every job;
 *   - postgres/usage-query.ts: scaled out — the jobs table, which every process writes, so a
 *     worker counts the jobs other workers ran and a surfaces process those another one took.
 */
import { channelOf, quotaMessage, usageOfJob, type JobUsage, type PriceTable, type QuotaCheck, type Quotas, type UsageSource } from "./usage-ledger.ts";
import type { ModelNames } from "../memory/trajectory.ts";
import type { JobService, SurfaceRef } from "./types.ts";
import { overriding } from "./service-wrapper.ts";

/** Whose jobs: one person's, or one channel's ("<surface>:<channel id>", as channelOf gives). */
export type UsageOwner = { personId: string } | { channel: string };

/** The usage of the jobs `owner` created on UTC day `day` (YYYY-MM-DD). */
export type DayUsage = (day: string, owner: UsageOwner) => Promise<JobUsage[]>;

export const utcDayOf = (at: Date): string => at.toISOString().slice(0, 10);

export function createQuotaCheck(options: { quotas: Quotas; prices: PriceTable; usage: DayUsage; now?: () => Date }): QuotaCheck {
  const { quotas, prices, usage } = options;
  const now = options.now ?? (() => new Date());
  return async (requester, surfaceRef) => {
    const channel = channelOf(surfaceRef);
    const isPersonLimited = quotas.personDaily !== null;
    const isChannelLimited = quotas.channelDaily !== null && channel !== null;
    if (!isPersonLimited && !isChannelLimited) return null;
    const at = now();
    const day = utcDayOf(at);
    const [person, ofChannel] = await Promise.all([
      isPersonLimited ? usage(day, { personId: requester.id }) : null,
      isChannelLimited ? usage(day, { channel: channel as string }) : null,
    ]);
    return quotaMessage(quotas, prices, at, { person, channel: ofChannel });
  };
}

export interface DayIndex {
  usage: DayUsage;
  /** `jobs`, except that each job it accepts (or moves to another channel) is indexed at once. */
  track(jobs: JobService): JobService;
}

interface DayEntries {
  byPerson: Map<string, Set<string>>;
  byChannel: Map<string, Set<string>>;
  /** What each job is filed under, to refile it when its channel changes. */
  filed: Map<string, { day: string; personId: string; channel: string | null }>;
}

/**
 * The single process's DayUsage. The jobs already stored are indexed once, on the first check
 * (one walk of `list()`); later ones through `track()`. Days before today are dropped as the
 * clock passes them, so the index holds one or two days of job ids.
 */
export function createDayIndex(source: UsageSource, options: { models: ModelNames; prices: PriceTable; now?: () => Date }): DayIndex {
  const now = options.now ?? (() => new Date());
  const days = new Map<string, DayEntries>();
  let isSeeded = false;

  const entriesOf = (day: string): DayEntries => {
    let entries = days.get(day);
    if (!entries) {
      entries = { byPerson: new Map(), byChannel: new Map(), filed: new Map() };
      days.set(day, entries);
    }
    return entries;
  };
  const addTo = (map: Map<string, Set<string>>, key: string, jobId: string): void => {
    const set = map.get(key) ?? new Set<string>();
    set.add(jobId);
    map.set(key, set);
  };
  const today = (): string => utcDayOf(now());

  function file(jobId: string, createdAt: string, personId: string, surfaceRef: SurfaceRef): void {
    const day = createdAt.slice(0, 10);
    if (day < today()) return;
    const entries = entriesOf(day);
    const before = entries.filed.get(jobId);
    if (before?.channel) entries.byChannel.get(before.channel)?.delete(jobId);
    const channel = channelOf(surfaceRef);
    entries.filed.set(jobId, { day, personId, channel });
    addTo(entries.byPerson, personId, jobId);
    if (channel !== null) addTo(entries.byChannel, channel, jobId);
  }

  function fileFromSource(jobId: string): void {
    const found = source.status(jobId);
    if (found.ok) file(jobId, found.job.createdAt, found.job.requester.id, found.job.surfaceRef);
  }

  function seed(): void {
    if (isSeeded) return;
    isSeeded = true;
    const from = today();
    // Newest first: stop at the first job from before today.
    for (const summary of source.list()) {
      if (summary.createdAt.slice(0, 10) < from) break;
      fileFromSource(summary.jobId);
    }
  }

  const usage: DayUsage = async (day, owner) => {
    seed();
    for (const old of days.keys()) if (old < today()) days.delete(old);
    const entries = days.get(day);
    const ids = entries && ("personId" in owner ? entries.byPerson.get(owner.personId) : entries.byChannel.get(owner.channel));
    const out: JobUsage[] = [];
    for (const jobId of ids ?? []) {
      const found = source.status(jobId);
      // Swept since (retention): it no longer counts, as the ledger would not count it either.
      if (!found.ok) {
        ids?.delete(jobId);
        continue;
      }
      out.push(usageOfJob(found.job, options.models, options.prices));
    }
    return out;
  };

  function track(jobs: JobService): JobService {
    const submit: JobService["submit"] = async (input, requester, surfaceRef) => {
      const result = await jobs.submit(input, requester, surfaceRef);
      if (result.ok) fileFromSource(result.jobId);
      return result;
    };
    const setSurfaceRef: JobService["setSurfaceRef"] = async (jobId, surfaceRef) => {
      const result = await jobs.setSurfaceRef(jobId, surfaceRef);
      if (result.ok) fileFromSource(jobId);
      return result;
    };
    return overriding(jobs, { submit, setSurfaceRef });
  }

  return { usage, track };
}
