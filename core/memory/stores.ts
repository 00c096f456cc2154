import type { Trajectory } from "./trajectory.ts";

/** Where trajectories live. Writes replace the whole record, so a reader never sees half of one. */
export interface TrajectoryStore {
  get(jobId: string): Promise<Trajectory | undefined>;
  put(trajectory: Trajectory): Promise<void>;
  delete(jobId: string): Promise<void>;
  /** Every stored job id, oldest first. */
  listJobIds(): Promise<string[]>;
  close(): Promise<void>;
}

/** Content-addressed PNG storage: the key is the sha256 of the bytes. */
export interface ImageStore {
  /** Stores the bytes (idempotent) and returns their sha256 hex digest. */
  put(png: Uint8Array): Promise<string>;
  /** The bytes; read-only (a store may hand the same copy to every caller). */
  get(hash: string): Promise<Uint8Array>;
  has(hash: string): Promise<boolean>;
  /** Absolute path of the file for a hash, for surfaces that attach files. */
  pathOf(hash: string): string;
  delete(hash: string): Promise<void>;
}
