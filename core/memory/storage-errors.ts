import { GemsError, describeError } from "../errors.ts";

/** A stored trajectory that cannot be read back: bad JSON, or a shape the schema rejects. */
export class CorruptRecordError extends GemsError {
  override readonly name = "CorruptRecordError";
  constructor(
    readonly jobId: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`The stored record for job ${jobId} is corrupt: ${detail}`, "storage", options);
  }
}

// Node fs errors and sqlite3 errors both carry a string `code`; the user needs the reason, not the errno.
const reasons: Record<string, (location: string | undefined) => string> = {
  ENOSPC: () => "the disk is full.",
  EDQUOT: () => "the disk quota is exceeded.",
  EACCES: (location) => `no permission to write to ${location ?? "the data directory"}.`,
  EPERM: (location) => `no permission to write to ${location ?? "the data directory"}.`,
  EROFS: () => "the file system is read-only.",
  ENOTDIR: (location) => `${location ?? "the data directory"} is not a directory (a file is in the way).`,
  EEXIST: (location) => `${location ?? "the data directory"} is not a directory (a file is in the way).`,
  EMFILE: () => "too many files are open; try again shortly.",
  ENFILE: () => "too many files are open; try again shortly.",
  EIO: () => "the disk reported an I/O error.",
  SQLITE_FULL: () => "the disk is full.",
  SQLITE_READONLY: () => "the database is read-only.",
  SQLITE_CANTOPEN: (location) => `the database file ${location ?? "in the data directory"} cannot be opened.`,
  SQLITE_BUSY: () => "the database is locked by another process.",
  SQLITE_CORRUPT: () => "the database file is damaged.",
  SQLITE_NOTADB: () => "the database file is not an SQLite database.",
  SQLITE_IOERR: () => "the disk reported an I/O error.",
};

export function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

/**
 * Wraps a file-system or database failure as a GemsError with code "storage", e.g.
 * "Could not save the image: the disk is full." The original error stays as `cause`.
 */
export function storageError(action: string, error: unknown, location?: string): GemsError {
  const code = errorCode(error);
  const reason = code !== undefined ? reasons[code]?.(location) : undefined;
  return new GemsError(`${action}: ${reason ?? describeError(error)}`, "storage", { cause: error });
}

/** Node's codes for a server that cannot be reached, or that dropped the connection. */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/**
 * Whether a storage failure is a database server that is away for now (restarting, failing
 * over, unreachable), which a wait can fix, rather than one that stays broken (a full disk, a
 * refused write). Looks through the causes for Node's connection codes, PostgreSQL's SQLSTATE
 * class 08 (connection exception) and 57P01-57P03 (shut down, or not yet taking connections),
 * and node-postgres's "Connection terminated" (the server went away mid-query).
 */
export function isStoreAway(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    const code = errorCode(current);
    if (code !== undefined && (UNREACHABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code))) return true;
    if (/^Connection terminated/.test(current.message)) return true;
  }
  return false;
}
