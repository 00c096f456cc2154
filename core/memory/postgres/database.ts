/**
 * One PostgreSQL connection pool per process, bound to one schema, with the schema migrated
 * before anything reads it. Everything GEMS keeps in PostgreSQL (job records, events, cursors,
 * feedback, images, trajectories) lives in that schema, so tests use a schema of their own.
 */
import pg from "pg";
import { GemsError, describeError } from "../../errors.ts";
import { migrate } from "./migrations.ts";

export interface Database {
  pool: pg.Pool;
  /** The connection URL without any password, for logs and messages. */
  displayUrl: string;
  url: string;
  /** A validated identifier, safe to interpolate. */
  schema: string;
  /** `"<schema>"."<table>"`. */
  table(name: string): string;
  /** Runs `task` in one transaction; rolls back when it throws. */
  transaction<T>(task: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new GemsError(`"${schema}" is not a usable schema name: use lower-case letters, digits and _ (e.g. gems).`, "config");
  }
  return schema;
}

/** The URL with its password replaced, so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * Connects, checks the server answers, and runs pending migrations under an advisory lock.
 * Fails with one storage error naming the server (never its password).
 */
export async function openDatabase(
  url: string,
  options: { schema?: string; maxConnections?: number; applicationName?: string } = {},
): Promise<Database> {
  const schema = checkSchemaName(options.schema ?? "public");
  const displayUrl = redactUrl(url);
  // The name shows in pg_stat_activity, so an operator (or a test) can tell whose connections they are.
  const named = options.applicationName ? { application_name: options.applicationName } : {};
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, ...named });
  // An idle client that loses its server emits on the pool; without a listener that kills the process.
  pool.on("error", () => undefined);
  const table = (name: string): string => `"${schema}"."${name}"`;
  const database: Database = {
    pool,
    url,
    displayUrl,
    schema,
    table,
    async transaction(task) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await task(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
  try {
    await migrate(database);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new GemsError(`Could not open the PostgreSQL database at ${displayUrl}: ${describeError(error)}`, "storage", { cause: error });
  }
  return database;
}
