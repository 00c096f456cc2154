/**
 * Job records in PostgreSQL plain tables (migrations in core/memory/postgres): the job row
 * (requester, surface reference, trajectory, finish time), the event log one row per seq, the
 * delivery cursors one row per surface, and pending feedback one row per entry.
 *
 * A put writes only what changed since this process last wrote or read the job: new events
 * (append only), cursors that moved (never backwards), feedback added or applied, and the job
 * row's columns that changed. So a surfaces process that stores a cursor or a piece of feedback
 * never overwrites the trajectory a worker is writing, and the reverse; and a step's trajectory
 * and its events still land together or not at all. After a job's first write (a transaction),
 * each put is one statement of data-modifying CTEs: one round trip per step, and the owner fence
 * on the job row gates every other table in it.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import type { JobEvent } from "../../agent/events.ts";
import { GemsError } from "../../errors.ts";
import type { Database } from "../../memory/postgres/database.ts";
import { CorruptRecordError, storageError } from "../../memory/storage-errors.ts";
import { parseJobRecord } from "../job-record.ts";
import type { JobStore } from "../job-store.ts";
import type { JobRecord, PendingFeedback, Person } from "../types.ts";
import type { VoteAction, VoteEntry } from "../votes.ts";

/** What this process last knew to be stored for a job. */
interface Written {
  events: number;
  cursors: Map<string, number>;
  pending: Set<string>;
  surfaceRef: string;
  requester: string;
  trajectory: string;
  finishedAt: string | null;
}

/** This process's writes to a job were refused: another process took the job over. */
export class LostJobError extends GemsError {
  override readonly name = "LostJobError";
  constructor(readonly jobId: string) {
    super(`Job ${jobId} was taken over by another worker; this one stops running it.`, "storage");
  }
}

export interface PostgresJobStore extends JobStore {
  /**
   * Makes this process the job's owner: from now on its writes to the job succeed only while no
   * other process has claimed it since (a fencing token). Returns the job as stored.
   */
  claim(jobId: string, token: string): Promise<JobRecord | undefined>;
  /**
   * Whether this process still owns the job: it claimed it and none of its writes has been
   * refused since (a refused write means another process claimed it meanwhile).
   */
  holds(jobId: string): boolean;
  /** Stops fencing writes to the job (the run ended); `forget` also drops what is known of it. */
  release(jobId: string, options?: { forget?: boolean }): void;
  /** Adds one piece of feedback to the job's pending list (any process may). */
  addPending(jobId: string, entry: PendingFeedback): Promise<void>;
  /**
   * Records one person's vote on one iteration (any process may; the last vote counts). Rows of
   * their own: the job row the owner writes is never touched. Returns the job's votes after it.
   */
  setVote(jobId: string, voter: Person, iteration: number, action: VoteAction, at: string): Promise<VoteEntry[]>;
  /** The job's votes as stored now. */
  votesOf(jobId: string): Promise<VoteEntry[]>;
  /** The job's pending feedback as stored now, oldest first. */
  pendingOf(jobId: string): Promise<PendingFeedback[]>;
  /**
   * Ids of jobs written at or after `since` (database time), and the database time now. A job
   * this store has read since its last write is left out: a poll need not read it again.
   */
  changedSince(since: Date | null): Promise<{ jobIds: string[]; now: Date }>;
  /** One job as stored now (what another process may have written), or undefined. */
  get(jobId: string): Promise<JobRecord | undefined>;
  /** One round trip to the server (health checks); rejects when it does not answer. */
  ping(): Promise<void>;
  /**
   * One job as stored now, but with only the events after the first `knownEvents`: events are
   * append-only, so a process that holds those need not read and check them again.
   */
  getSince(jobId: string, knownEvents: number): Promise<JobSince | undefined>;
}

/** A job read by `getSince`: `record.events` holds only the events after `knownEvents`. */
export interface JobSince {
  record: JobRecord;
  knownEvents: number;
  /** How many events the job has in all (fewer than `knownEvents` if the reader holds some not stored). */
  storedEvents: number;
}

const pendingKey = (p: PendingFeedback): string => `${p.receivedAt}\u0000${p.text}`;

interface PendingRow {
  author: PendingFeedback["author"];
  text: string;
  received_at: Date;
  image_hashes: string[] | null;
  is_note: boolean;
}

const PENDING_COLUMNS = "author, text, received_at, image_hashes, is_note";

function pendingOfRow(row: PendingRow): PendingFeedback {
  return {
    author: row.author,
    text: row.text,
    receivedAt: row.received_at.toISOString(),
    ...(row.image_hashes && row.image_hashes.length > 0 ? { imageHashes: row.image_hashes } : {}),
    ...(row.is_note ? { isNote: true } : {}),
  };
}

interface VoteRow {
  iteration: number;
  voter: Person;
  vote: "up" | "down";
  updated_at: Date;
}

const voteOfRow = (row: VoteRow): VoteEntry => ({ n: row.iteration, voter: row.voter, value: row.vote, at: row.updated_at.toISOString() });

interface JobRow {
  job_id: string;
  requester: unknown;
  surface_ref: unknown;
  trajectory: unknown;
  finished_at: Date | null;
}

export interface PostgresJobStoreOptions {
  /** close() also closes the pool (default: yes, when the store is the only user). */
  ownsDatabase?: boolean;
  /**
   * Several processes share the jobs (scaled out). Then only the process that claimed a job
   * writes its trajectory, finish time and events; the others add feedback, move cursors and
   * change the surface reference. Without it, one process owns every job (as with SQLite).
   */
  isShared?: boolean;
}

export function createPostgresJobStore(db: Database, options: PostgresJobStoreOptions = {}): PostgresJobStore {
  const isShared = options.isShared ?? false;
  const written = new Map<string, Written>();
  const claims = new Map<string, string>();
  /** Jobs claimed here whose writes were refused since: another process claimed them. */
  const lost = new Set<string>();
  /** Each job's updated_at (as text, to the microsecond) when this store last read it. */
  const readVersions = new Map<string, string>();
  /** Statement names of the step writes, by their SQL. */
  const prepared = new Map<string, string>();
  const t = db.table.bind(db);

  /**
   * `json`: the record's JSON columns when the caller has them already (a step's trajectory is
   * large); `events`: how many the job has when `record.events` holds only the newest.
   */
  function remember(record: JobRecord, json?: Pick<Written, "requester" | "surfaceRef" | "trajectory">, events = record.events.length): void {
    written.set(record.jobId, {
      events,
      cursors: new Map(Object.entries(record.cursors)),
      pending: new Set(record.pendingFeedback.map(pendingKey)),
      surfaceRef: json?.surfaceRef ?? JSON.stringify(record.surfaceRef),
      requester: json?.requester ?? JSON.stringify(record.requester),
      trajectory: json?.trajectory ?? JSON.stringify(record.trajectory),
      finishedAt: record.finishedAt,
    });
  }

  /**
   * Jobs with their events, cursors, feedback and votes in one statement: one round trip, and
   * one snapshot, so a commit landing meanwhile cannot split a step.
   */
  async function readJobs(jobId?: string, knownEvents = 0): Promise<{ records: Array<{ record: JobRecord; storedEvents: number }>; corrupt: CorruptRecordError[] }> {
    const of = (table: string, alias: string): string => `${t(table)} ${alias} WHERE ${alias}.job_id = j.job_id`;
    const { rows } = await db.pool.query<JobRow & { version: string; stored_events: number; events: JobEvent[]; cursors: Record<string, number>; pending: Array<Omit<PendingRow, "received_at"> & { received_at: string }>; votes: Array<Omit<VoteRow, "updated_at"> & { updated_at: string }> }>(
      `SELECT j.job_id, j.requester, j.surface_ref, j.trajectory, j.finished_at, j.updated_at::text AS version,
        (SELECT coalesce(max(e.seq), 0) FROM ${of("job_events", "e")}) AS stored_events,
        (SELECT coalesce(json_agg(e.event ORDER BY e.seq), '[]') FROM ${of("job_events", "e")}${jobId === undefined ? "" : " AND e.seq > $2"}) AS events,
        (SELECT coalesce(json_object_agg(c.surface, c.seq), '{}') FROM ${of("delivery_cursors", "c")}) AS cursors,
        (SELECT coalesce(json_agg(json_build_object('author', p.author, 'text', p.text, 'received_at', p.received_at,
           'image_hashes', p.image_hashes, 'is_note', p.is_note) ORDER BY p.id), '[]') FROM ${of("pending_feedback", "p")}) AS pending,
        (SELECT coalesce(json_agg(json_build_object('iteration', v.iteration, 'voter', v.voter, 'vote', v.vote, 'updated_at', v.updated_at)
           ORDER BY v.iteration, v.updated_at, v.voter_id), '[]') FROM ${of("job_votes", "v")}) AS votes
       FROM ${t("jobs")} j ${jobId === undefined ? "" : "WHERE j.job_id = $1"} ORDER BY j.ord`,
      jobId === undefined ? [] : [jobId, knownEvents],
    );
    const loaded = { records: [] as Array<{ record: JobRecord; storedEvents: number }>, corrupt: [] as CorruptRecordError[] };
    for (const row of rows) {
      try {
        // JSON carries times as text; the rows read one by one carried them as dates.
        const votes = row.votes.map((v) => voteOfRow({ ...v, updated_at: new Date(v.updated_at) }));
        const record = parseJobRecord(row.job_id, {
          version: 1,
          jobId: row.job_id,
          requester: row.requester,
          surfaceRef: row.surface_ref,
          trajectory: row.trajectory,
          events: row.events,
          cursors: row.cursors,
          pendingFeedback: row.pending.map((p) => pendingOfRow({ ...p, received_at: new Date(p.received_at) })),
          ...(votes.length > 0 ? { votes } : {}),
          finishedAt: row.finished_at === null ? null : row.finished_at.toISOString(),
        }, knownEvents);
        // What this process owns it knows better than the database does while it writes; once
        // it lets go, the job counts as unread, so the next poll reads it.
        if (!claims.has(record.jobId)) {
          remember(record, undefined, row.stored_events);
          readVersions.set(record.jobId, row.version);
        }
        loaded.records.push({ record, storedEvents: row.stored_events });
      } catch (error) {
        if (!(error instanceof CorruptRecordError)) throw error;
        loaded.corrupt.push(error);
      }
    }
    return loaded;
  }

  async function insertPending(client: pg.PoolClient | pg.Pool, jobId: string, p: PendingFeedback): Promise<void> {
    await client.query(
      `INSERT INTO ${t("pending_feedback")} (job_id, author, text, received_at, image_hashes, is_note) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [jobId, JSON.stringify(p.author), p.text, p.receivedAt, p.imageHashes && p.imageHashes.length > 0 ? p.imageHashes : null, p.isNote === true],
    );
  }

  async function readVotes(client: pg.PoolClient | pg.Pool, jobId: string): Promise<VoteEntry[]> {
    const { rows } = await client.query<VoteRow>(
      `SELECT iteration, voter, vote, updated_at FROM ${t("job_votes")} WHERE job_id = $1 ORDER BY iteration, updated_at, voter_id`,
      [jobId],
    );
    return rows.map(voteOfRow);
  }

  /** Refuses a write by a process that does not own the job's memory and events. */
  function checkOwner(record: JobRecord, before: Written | undefined, json: { requester: string; trajectory: string }): boolean {
    const isOwner = !isShared || claims.has(record.jobId) || !before;
    if (!isOwner && (before.trajectory !== json.trajectory || before.finishedAt !== record.finishedAt || before.requester !== json.requester || record.events.length > before.events)) {
      throw new Error(`job ${record.jobId} is run by another process; only its owner changes its memory and events`);
    }
    return isOwner;
  }

  /** The first write of a job: its row, then everything else, in one transaction. */
  async function insert(client: pg.PoolClient, record: JobRecord): Promise<void> {
    const id = record.jobId;
    // Shared: a new job is only ever inserted; an id that exists belongs to someone else.
    const conflict = isShared
      ? "DO NOTHING"
      : `DO UPDATE SET requester = excluded.requester, surface_ref = excluded.surface_ref,
         trajectory = excluded.trajectory, finished_at = excluded.finished_at, updated_at = now()`;
    await client.query(
      `INSERT INTO ${t("jobs")} (job_id, requester, surface_ref, trajectory, finished_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job_id) ${conflict}`,
      [id, JSON.stringify(record.requester), JSON.stringify(record.surfaceRef), JSON.stringify(record.trajectory), record.finishedAt],
    );
    // A record first written here with votes (gems migrate --to postgres copying a SQLite job)
    // keeps them; afterwards only setVote writes votes, so no write of the job undoes one.
    for (const vote of record.votes ?? []) {
      await client.query(
        `INSERT INTO ${t("job_votes")} (job_id, iteration, voter, voter_id, vote, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [id, vote.n, JSON.stringify({ id: vote.voter.id, name: vote.voter.name }), vote.voter.id, vote.value, vote.at],
      );
    }
    if (record.events.length > 0) await client.query(appendEvents("$1", "$2", "$3"), [id, ...eventColumns(record.events)]);
    const cursors = Object.entries(record.cursors);
    if (cursors.length > 0) await client.query(moveCursors("$1", "$2", "$3"), [id, ...cursorColumns(cursors)]);
    for (const p of record.pendingFeedback) await insertPending(client, id, p);
  }

  // Append only: a seq already stored (by this process before a crash, say) is kept as it is.
  const appendEvents = (jobId: string, seqs: string, events: string, from = ""): string =>
    `INSERT INTO ${t("job_events")} (job_id, seq, event)
     SELECT ${jobId}, e.seq, e.event FROM ${from}unnest(${seqs}::int[], ${events}::jsonb[]) AS e(seq, event) ON CONFLICT DO NOTHING`;
  const eventColumns = (events: JobEvent[]): [number[], string[]] => [events.map((e) => e.seq), events.map((e) => JSON.stringify(e))];
  // Never backwards: another process may have moved a cursor further meanwhile.
  const moveCursors = (jobId: string, surfaces: string, seqs: string, from = ""): string =>
    `INSERT INTO ${t("delivery_cursors")} (job_id, surface, seq)
     SELECT ${jobId}, c.surface, c.seq FROM ${from}unnest(${surfaces}::text[], ${seqs}::int[]) AS c(surface, seq)
     ON CONFLICT (job_id, surface) DO UPDATE SET seq = GREATEST(${t("delivery_cursors")}.seq, excluded.seq)`;
  const cursorColumns = (cursors: Array<[string, number]>): [string[], number[]] => [cursors.map(([surface]) => surface), cursors.map(([, seq]) => seq)];

  /**
   * A later write, in one statement (one round trip, atomic on its own): the job row's changed
   * columns, fenced by the owner token, and, only when that row was written, the new events,
   * moved cursors and settled feedback. Returns whether the job row was written.
   */
  async function update(
    record: JobRecord,
    before: Written,
    { isOwner, token, json }: { isOwner: boolean; token: string | undefined; json: { requester: string; surfaceRef: string; trajectory: string } },
  ): Promise<boolean> {
    const id = record.jobId;
    const values: unknown[] = [id];
    const param = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    // Only the columns this process changed: another process may own the others right now.
    const sets: string[] = [];
    if (before.requester !== json.requester) sets.push(`requester = ${param(json.requester)}`);
    if (before.surfaceRef !== json.surfaceRef) sets.push(`surface_ref = ${param(json.surfaceRef)}`);
    if (before.trajectory !== json.trajectory) sets.push(`trajectory = ${param(json.trajectory)}`);
    if (before.finishedAt !== record.finishedAt) sets.push(`finished_at = ${param(record.finishedAt)}`);
    const fresh = record.events.slice(before.events);
    const moved = Object.entries(record.cursors).filter(([surface, seq]) => (before.cursors.get(surface) ?? -1) !== seq);
    // Shared: others add feedback with addPending, never by diff (their copy may hold feedback
    // the owner has applied meanwhile; writing it again would apply it twice).
    const added = isOwner ? record.pendingFeedback.filter((p) => !before.pending.has(pendingKey(p))) : [];
    // Feedback leaves the pending list when its owner applied it; nobody else removes it.
    const keys = new Set(record.pendingFeedback.map(pendingKey));
    const applied = isOwner ? [...before.pending].filter((key) => !keys.has(key)).map((key) => key.split("\u0000") as [string, string]) : [];
    // A surfaces process that only moved its cursors leaves the job row alone: no poller
    // elsewhere needs to read the job again for it, and the row the owner writes every step is
    // not rewritten for each delivered event.
    const isCursorsOnly = isShared && token === undefined && sets.length === 0 && fresh.length === 0 && added.length === 0 && applied.length === 0;
    // Otherwise updated_at moves on every write, so pollers find the job. The owner check fences
    // out a worker that lost the job: no row, so nothing below is written.
    const fence = token === undefined ? "" : ` AND owner = ${param(token)}`;
    const parts = [
      isCursorsOnly
        ? `job AS (SELECT job_id FROM ${t("jobs")} WHERE job_id = $1)`
        : `job AS (UPDATE ${t("jobs")} SET ${[...sets, "updated_at = now()"].join(", ")} WHERE job_id = $1${fence} RETURNING job_id)`,
    ];
    if (fresh.length > 0) {
      const [seqs, events] = eventColumns(fresh);
      parts.push(`events AS (${appendEvents("job.job_id", param(seqs), param(events), "job, ")})`);
    }
    if (moved.length > 0) {
      const [surfaces, seqs] = cursorColumns(moved);
      parts.push(`cursors AS (${moveCursors("job.job_id", param(surfaces), param(seqs), "job, ")})`);
    }
    if (added.length > 0) {
      const rows = added.map((p) => ({ author: p.author, text: p.text, received_at: p.receivedAt, image_hashes: p.imageHashes && p.imageHashes.length > 0 ? p.imageHashes : null, is_note: p.isNote === true }));
      parts.push(`added AS (INSERT INTO ${t("pending_feedback")} (job_id, ${PENDING_COLUMNS})
        SELECT job.job_id, ${PENDING_COLUMNS} FROM job, jsonb_to_recordset(${param(JSON.stringify(rows))}::jsonb)
          AS p(author jsonb, text text, received_at timestamptz, image_hashes text[], is_note boolean)
        ON CONFLICT DO NOTHING)`);
    }
    if (applied.length > 0) {
      parts.push(`applied AS (DELETE FROM ${t("pending_feedback")} f USING job,
        unnest(${param(applied.map(([receivedAt]) => receivedAt))}::timestamptz[], ${param(applied.map(([, text]) => text))}::text[]) AS d(received_at, text)
        WHERE f.job_id = job.job_id AND f.received_at = d.received_at AND f.text = d.text)`);
    }
    const text = `WITH ${parts.join(",\n")} SELECT count(*)::int AS n FROM job`;
    // Prepared once per connection and shape of step (a few dozen at most): PostgreSQL then
    // skips parsing and planning it on every step. Named by its text, so stores sharing a pool agree.
    let name = prepared.get(text);
    if (name === undefined) prepared.set(text, (name = `gems_step_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`));
    const { rows } = await db.pool.query<{ n: number }>({ name, text, values });
    return (rows[0]?.n ?? 0) > 0;
  }

  return {
    async load() {
      try {
        const loaded = await readJobs();
        return { records: loaded.records.map((read) => read.record), corrupt: loaded.corrupt.map((error) => ({ jobId: error.jobId, problem: error.message })) };
      } catch (error) {
        throw storageError("Could not read the jobs from PostgreSQL", error);
      }
    },

    async get(jobId) {
      try {
        const loaded = await readJobs(jobId);
        if (loaded.corrupt[0]) throw loaded.corrupt[0];
        return loaded.records[0]?.record;
      } catch (error) {
        if (error instanceof CorruptRecordError) throw error;
        throw storageError(`Could not read job ${jobId}`, error);
      }
    },

    async ping() {
      await db.pool.query("SELECT 1");
    },

    async getSince(jobId, knownEvents) {
      try {
        const loaded = await readJobs(jobId, knownEvents);
        if (loaded.corrupt[0]) throw loaded.corrupt[0];
        const read = loaded.records[0];
        return read && { ...read, knownEvents };
      } catch (error) {
        if (error instanceof CorruptRecordError) throw error;
        throw storageError(`Could not read job ${jobId}`, error);
      }
    },

    async put(record) {
      // Snapshot now: the caller keeps changing its object while this write runs.
      const snapshot = structuredClone(record);
      const known = written.get(snapshot.jobId);
      // A copy: pendingOf may note more stored feedback while this write runs, and this write
      // must not delete what it did not know of when it began.
      const before = known && { ...known, cursors: new Map(known.cursors), pending: new Set(known.pending) };
      const json = { requester: JSON.stringify(snapshot.requester), surfaceRef: JSON.stringify(snapshot.surfaceRef), trajectory: JSON.stringify(snapshot.trajectory) };
      const token = claims.get(snapshot.jobId);
      let isOwner = false;
      try {
        isOwner = checkOwner(snapshot, before, json);
        if (!before) await db.transaction((client) => insert(client, snapshot));
        else if (!(await update(snapshot, before, { isOwner, token, json }))) {
          if (token !== undefined) {
            lost.add(snapshot.jobId);
            throw new LostJobError(snapshot.jobId);
          }
          throw new Error(`job ${snapshot.jobId} is no longer stored (it was deleted)`);
        }
      } catch (error) {
        if (error instanceof LostJobError) throw error;
        throw storageError(`Could not save job ${snapshot.jobId}`, error);
      }
      const current = written.get(snapshot.jobId);
      if (isOwner || !current) {
        remember(snapshot, json);
        // Feedback found in the database while this write ran (pendingOf) is still there: this
        // write deleted only what it knew of before it began.
        const after = written.get(snapshot.jobId);
        for (const key of current?.pending ?? []) if (!before?.pending.has(key)) after?.pending.add(key);
        return;
      }
      // Only what a non-owner wrote: a read that finished meanwhile knows the rest better.
      for (const [surface, seq] of Object.entries(snapshot.cursors)) current.cursors.set(surface, Math.max(current.cursors.get(surface) ?? 0, seq));
      current.surfaceRef = JSON.stringify(snapshot.surfaceRef);
    },

    async addPending(jobId, entry) {
      try {
        await insertPending(db.pool, jobId, entry);
        await db.pool.query(`UPDATE ${t("jobs")} SET updated_at = now() WHERE job_id = $1`, [jobId]);
      } catch (error) {
        throw storageError("Could not save the feedback", error);
      }
      written.get(jobId)?.pending.add(pendingKey(entry));
    },

    async claim(jobId, token) {
      try {
        const { rowCount } = await db.pool.query(`UPDATE ${t("jobs")} SET owner = $2, updated_at = now() WHERE job_id = $1`, [jobId, token]);
        if (rowCount === 0) return undefined;
        claims.delete(jobId);
        lost.delete(jobId);
        const loaded = await readJobs(jobId);
        if (loaded.corrupt[0]) throw loaded.corrupt[0];
        claims.set(jobId, token);
        return loaded.records[0]?.record;
      } catch (error) {
        if (error instanceof CorruptRecordError) throw error;
        throw storageError(`Could not take job ${jobId}`, error);
      }
    },

    holds(jobId) {
      return claims.has(jobId) && !lost.has(jobId);
    },

    release(jobId, releaseOptions = {}) {
      claims.delete(jobId);
      lost.delete(jobId);
      if (!releaseOptions.forget) return;
      written.delete(jobId);
      readVersions.delete(jobId);
    },

    async setVote(jobId, voter, iteration, action, at) {
      try {
        return await db.transaction(async (client) => {
          if (action === "up" || action === "down") {
            await client.query(
              `INSERT INTO ${t("job_votes")} (job_id, iteration, voter, voter_id, vote, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (job_id, iteration, voter_id) DO UPDATE SET voter = excluded.voter, vote = excluded.vote, updated_at = excluded.updated_at`,
              [jobId, iteration, JSON.stringify({ id: voter.id, name: voter.name }), voter.id, action, at],
            );
          } else {
            // "remove-up"/"remove-down" clear the vote only while it is still that value.
            const only = action === "clear" ? null : action === "remove-up" ? "up" : "down";
            await client.query(`DELETE FROM ${t("job_votes")} WHERE job_id = $1 AND iteration = $2 AND voter_id = $3 AND ($4::text IS NULL OR vote = $4)`, [
              jobId,
              iteration,
              voter.id,
              only,
            ]);
          }
          // Pollers in other processes find the job by updated_at.
          await client.query(`UPDATE ${t("jobs")} SET updated_at = now() WHERE job_id = $1`, [jobId]);
          return readVotes(client, jobId);
        });
      } catch (error) {
        throw storageError("Could not save the vote", error);
      }
    },

    async votesOf(jobId) {
      try {
        return await readVotes(db.pool, jobId);
      } catch (error) {
        throw storageError(`Could not read the votes of job ${jobId}`, error);
      }
    },

    async pendingOf(jobId) {
      try {
        const { rows } = await db.pool.query<PendingRow>(`SELECT ${PENDING_COLUMNS} FROM ${t("pending_feedback")} WHERE job_id = $1 ORDER BY id`, [jobId]);
        const entries = rows.map(pendingOfRow);
        // They are stored: once the owner applies one, its next write must delete the row.
        const known = written.get(jobId);
        for (const entry of entries) known?.pending.add(pendingKey(entry));
        return entries;
      } catch (error) {
        throw storageError(`Could not read the feedback of job ${jobId}`, error);
      }
    },

    async changedSince(since) {
      try {
        const { rows } = await db.pool.query<{ job_id: string | null; version: string | null; now: Date }>(
          `SELECT j.job_id, j.updated_at::text AS version, n.now FROM (SELECT now() AS now) n
           LEFT JOIN ${t("jobs")} j ON $1::timestamptz IS NULL OR j.updated_at >= $1`,
          [since],
        );
        const jobIds = rows.flatMap((row) => (row.job_id === null || readVersions.get(row.job_id) === row.version ? [] : [row.job_id]));
        return { jobIds, now: rows[0]?.now ?? new Date() };
      } catch (error) {
        throw storageError("Could not list changed jobs", error);
      }
    },

    async delete(jobId) {
      try {
        await db.pool.query(`DELETE FROM ${t("jobs")} WHERE job_id = $1`, [jobId]);
      } catch (error) {
        throw storageError(`Could not delete job ${jobId}`, error);
      }
      written.delete(jobId);
      readVersions.delete(jobId);
    },

    async close() {
      if (options.ownsDatabase ?? true) await db.close();
    },
  };
}
