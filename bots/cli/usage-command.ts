/**
 * `gems usage [--since 7d] [--json]`: what the stored jobs spent, in total, per person and per
 * UTC day, read from the records the server wrote: PostgreSQL when scaled out, else the SQLite
 * file in the data directory (the CLI's own `gems run` jobs are stored in neither and not counted).
 */
import { openSqliteJobStore, type LoadedJobs } from "../../core/jobs/job-store.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import { openDatabase } from "../../core/memory/postgres/database.ts";
import { InputError } from "../../core/errors.ts";
import { createUsageLedger, formatMoney, formatReport, usageSourceOf, USAGE_MAX_DAYS, type ModelNames } from "../../core/jobs/usage-ledger.ts";
import type { Config } from "../../config/schema.ts";

/** "7d", "24h", "30" (days): how far back; the default is 7 days. */
export function parseSince(value: string | undefined, now: Date): { since: Date; label: string } {
  const text = (value ?? "7d").trim().toLowerCase();
  const match = /^(\d{1,4})\s*([dh]?)$/.exec(text);
  const amount = match ? Number(match[1]) : Number.NaN;
  const unit = match?.[2] === "h" ? "h" : "d";
  const hours = unit === "h" ? amount : amount * 24;
  if (!match || amount < 1 || hours > USAGE_MAX_DAYS * 24) {
    throw new InputError(`--since must be a number of days or hours back, from 1h to ${USAGE_MAX_DAYS}d, e.g. --since 7d or --since 12h (got "${value}").`);
  }
  return { since: new Date(now.getTime() - hours * 3_600_000), label: `${amount}${unit}` };
}

export async function showUsage(
  config: Readonly<Config>,
  models: ModelNames,
  options: { since: string | undefined; json: boolean },
  write: (line: string) => void,
  now: Date = new Date(),
): Promise<void> {
  const { since, label } = parseSince(options.since, now);
  const loaded = await loadStoredJobs(config);
  const ledger = createUsageLedger({ jobs: usageSourceOf(loaded.records), models, prices: config.usage.prices, quotas: config.usage.quotas });
  const report = ledger.report({ since });
  if (options.json) {
    write(JSON.stringify({ ...report, jobs: ledger.jobs({ since }) }));
    return;
  }
  for (const line of formatReport(report, { isByPerson: true, title: `Since ${since.toISOString()} (${label})` })) write(line);
  for (const day of report.byDay) {
    const money = day.cost !== null ? `${formatMoney(day.cost, report.currency)}, ` : "";
    write(`  ${day.day}: ${money}${day.jobs} jobs, ${day.images} images, ${day.inputTokens.toLocaleString("en-US")} tokens in, ${day.outputTokens.toLocaleString("en-US")} out`);
  }
  if (loaded.corrupt.length > 0) write(`(${loaded.corrupt.length} stored job(s) could not be read and are not counted)`);
}

/** Every stored job, from wherever `gems serve` keeps them. */
async function loadStoredJobs(config: Readonly<Config>): Promise<LoadedJobs> {
  if (config.scaleOut) {
    const db = await openDatabase(config.scaleOut.databaseUrl, { schema: config.scaleOut.databaseSchema });
    const store = createPostgresJobStore(db, { ownsDatabase: false });
    try {
      return await store.load();
    } finally {
      await store.close();
      await db.close();
    }
  }
  const store = await openSqliteJobStore(config.dataDir);
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}
