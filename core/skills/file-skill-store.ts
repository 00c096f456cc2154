/**
 * TeamSkillStore and SkillDefaultStore on disk, under the data directory:
 *   team-skills/<id>/v0001.md, v0002.md …   every version, never overwritten
 *   team-skills/<id>/history.jsonl          who added which version, when
 *   skill-defaults.json                     { "<person id>": "<skill id>|auto|none" }
 * Files are written to a temporary name and renamed, so a crash leaves the old file or the new
 * one, never half of either. One process writes (the single `gems serve`); scaled out,
 * postgres-skill-store.ts takes its place and `gems migrate --to postgres` copies these files.
 */
import { appendFile, mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { SKILL_ID } from "./registry.ts";
import type { StoredSkillVersion, TeamSkillStore } from "./team-skills.ts";

const VERSION_FILE = /^v(\d{4,})\.md$/;

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  await writeFile(temporary, text, "utf8");
  await rename(temporary, path);
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export function createFileTeamSkillStore(dataDir: string): FileTeamSkillStore {
  const root = join(dataDir, "team-skills");
  let writes: Promise<unknown> = Promise.resolve();

  async function versionNumbers(id: string): Promise<number[]> {
    return (await listOrEmpty(join(root, id)))
      .map((name) => VERSION_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  async function history(id: string): Promise<Map<number, { by: string; at: string }>> {
    const text = await readFile(join(root, id, "history.jsonl"), "utf8").catch(() => "");
    const out = new Map<number, { by: string; at: string }>();
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const entry = JSON.parse(line) as { version: number; by: string; at: string };
        out.set(entry.version, { by: entry.by, at: entry.at });
      } catch {
        // A line cut by a crash names no version that exists; skip it.
      }
    }
    return out;
  }

  return {
    async current() {
      const out: StoredSkillVersion[] = [];
      for (const id of (await listOrEmpty(root)).sort()) {
        if (!SKILL_ID.test(id)) continue;
        const numbers = await versionNumbers(id);
        const version = numbers.at(-1);
        if (version === undefined) continue;
        const text = await readFile(join(root, id, `v${String(version).padStart(4, "0")}.md`), "utf8");
        const meta = (await history(id)).get(version) ?? { by: "unknown", at: "" };
        out.push({ id, version, text, ...meta });
      }
      return out;
    },
    save(id, text, meta) {
      if (!SKILL_ID.test(id)) return Promise.reject(new Error(`"${id}" is not a valid skill id`));
      const next = writes.then(async () => {
        await mkdir(join(root, id), { recursive: true });
        const version = ((await versionNumbers(id)).at(-1) ?? 0) + 1;
        await writeAtomically(join(root, id, `v${String(version).padStart(4, "0")}.md`), text);
        await appendFile(join(root, id, "history.jsonl"), `${JSON.stringify({ version, ...meta })}\n`, "utf8");
        return version;
      });
      writes = next.catch(() => undefined);
      return next;
    },
    async versions(id) {
      const meta = await history(id);
      return (await versionNumbers(id)).map((version) => ({ id, version, ...(meta.get(version) ?? { by: "unknown", at: "" }) }));
    },
    async everyVersion() {
      const out: StoredSkillVersion[] = [];
      for (const id of (await listOrEmpty(root)).sort()) {
        if (!SKILL_ID.test(id)) continue;
        const meta = await history(id);
        for (const version of await versionNumbers(id)) {
          const text = await readFile(join(root, id, `v${String(version).padStart(4, "0")}.md`), "utf8");
          out.push({ id, version, text, ...(meta.get(version) ?? { by: "unknown", at: "" }) });
        }
      }
      return out;
    },
  };
}

export interface FileTeamSkillStore extends TeamSkillStore {
  /** Every version of every skill with its text, oldest first per skill (what `gems migrate` copies). */
  everyVersion(): Promise<StoredSkillVersion[]>;
}

/** A person's default skill for jobs that name none: a skill id, "auto" or "none". */
export interface SkillDefaultStore {
  get(personId: string): Promise<string | null>;
  /** null forgets the default (jobs go back to auto). */
  set(personId: string, choice: string | null): Promise<void>;
}

/** skill-defaults.json as { person id: choice }; empty when the file does not exist. */
export async function readFileSkillDefaults(dataDir: string): Promise<Record<string, string>> {
  const path = join(dataDir, "skill-defaults.json");
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`could not read ${path}: ${(error as Error).message}`, { cause: error });
    return {};
  }
}

export function createFileSkillDefaultStore(dataDir: string): SkillDefaultStore {
  const path = join(dataDir, "skill-defaults.json");
  let cache: Record<string, string> | null = null;
  let writes: Promise<unknown> = Promise.resolve();

  async function read(): Promise<Record<string, string>> {
    cache ??= await readFileSkillDefaults(dataDir);
    return cache;
  }

  return {
    async get(personId) {
      const value = (await read())[personId];
      return typeof value === "string" ? value : null;
    },
    set(personId, choice) {
      const next = writes.then(async () => {
        const current = { ...(await read()) };
        if (choice === null) delete current[personId];
        else current[personId] = choice;
        await mkdir(dataDir, { recursive: true });
        await writeAtomically(path, `${JSON.stringify(current, null, 2)}\n`);
        cache = current;
      });
      writes = next.catch(() => undefined);
      return next;
    },
  };
}
