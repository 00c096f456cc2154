import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { GemsError, InputError, describeError } from "../errors.ts";
import { parseSkillFile } from "./parse-skill.ts";
import type { Skill, SkillLibrary, SkillProblem, SkillSummary } from "./types.ts";

export const SKILL_FILE = "SKILL.md";

/** Folder names become ids in commands and autocomplete, so they stay short and URL-safe. */
export const SKILL_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface LoadSkillLibraryOptions {
  /** Called once per problem found at start-up, in folder order. */
  log?: (problem: SkillProblem) => void;
}

interface Entry {
  summary: SkillSummary;
  path: string;
}

type FolderResult = { entry: Entry } | { problem: SkillProblem } | null;

/**
 * Reads every `<dir>/<id>/SKILL.md`, validating each, and keeps only the summaries; the
 * instructions are read again from disk when a skill is loaded. Problems never stop start-up.
 */
export async function loadSkillLibrary(dir: string, options: LoadSkillLibraryOptions = {}): Promise<SkillLibrary> {
  const problems: SkillProblem[] = [];
  const report = (problem: SkillProblem): void => {
    problems.push(problem);
    options.log?.(problem);
  };

  const folders = await listFolders(dir).catch((error: unknown) => {
    report({ path: dir, problem: describeMissingDir(error) });
    return [];
  });
  const results = await Promise.all(folders.map((name) => readFolder(dir, name)));

  const entries = new Map<string, Entry>();
  for (const result of results) {
    if (result === null) continue;
    if ("problem" in result) report(result.problem);
    else entries.set(result.entry.summary.id, result.entry);
  }
  return createLibrary(entries, problems);
}

function createLibrary(entries: Map<string, Entry>, problems: readonly SkillProblem[]): SkillLibrary {
  const ids = [...entries.keys()].sort();
  return {
    manifest: () => ids.map((id) => ({ ...entries.get(id)!.summary })),
    has: (id) => entries.has(id),
    problems: () => problems.map((problem) => ({ ...problem })),
    async load(id: string): Promise<Skill> {
      const entry = entries.get(id);
      if (!entry) {
        const known = ids.length > 0 ? ids.join(", ") : "none";
        throw new InputError(`Unknown skill "${id}". Known skills: ${known}.`);
      }
      try {
        return parseSkillFile(id, await readFile(entry.path, "utf8"));
      } catch (error) {
        // The file was valid at start-up, so someone changed or removed it since: an operator's fix.
        throw new GemsError(
          `The skill "${id}" could not be loaded from ${entry.path}: ${describeError(error)}. ` +
            "Fix the file, or restart to drop the skill.",
          "storage",
          { cause: error },
        );
      }
    },
  };
}

/** Subfolders of `dir`, following symlinks, sorted so that problems come out in a stable order. */
async function listFolders(dir: string): Promise<string[]> {
  const dirents = await readdir(dir, { withFileTypes: true });
  const folders: string[] = [];
  for (const dirent of dirents) {
    // Dot-folders are editor and VCS state, never skills.
    if (dirent.name.startsWith(".")) continue;
    if (dirent.isDirectory()) folders.push(dirent.name);
    else if (dirent.isSymbolicLink() && (await isFolder(join(dir, dirent.name)))) folders.push(dirent.name);
  }
  return folders.sort();
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false; // a dangling link is no skill folder; there is nothing in it to report
  }
}

function describeMissingDir(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "the skills folder does not exist; no skills are available (set GEMS_SKILLS_DIR)";
  if (code === "ENOTDIR") return "the skills path is not a folder; no skills are available (set GEMS_SKILLS_DIR)";
  return `the skills folder could not be read (${describeError(error)}); no skills are available`;
}

/**
 * A folder without SKILL.md is ignored when it is empty, and reported when it holds other files,
 * since those are most likely a skill whose file is misnamed.
 */
async function readFolder(dir: string, name: string): Promise<FolderResult> {
  const folder = join(dir, name);
  const path = join(folder, SKILL_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      return { problem: { path, problem: `could not be read: ${describeError(error)}` } };
    }
    let files: string[];
    try {
      files = await readdir(folder);
    } catch (listError) {
      return { problem: { path: folder, problem: `could not be read: ${describeError(listError)}` } };
    }
    const visible = files.filter((file) => !file.startsWith("."));
    if (visible.length === 0) return null;
    return {
      problem: { path: folder, problem: `no ${SKILL_FILE} in this folder (found: ${visible.sort().join(", ")})` },
    };
  }
  if (!SKILL_ID.test(name)) {
    return {
      problem: {
        path,
        problem:
          `the folder name "${name}" is not a valid skill id: use 1 to 64 lowercase letters, digits ` +
          "and hyphens, starting with a letter or digit",
      },
    };
  }
  try {
    const skill = parseSkillFile(name, text);
    return { entry: { summary: { id: skill.id, name: skill.name, description: skill.description }, path } };
  } catch (error) {
    return { problem: { path, problem: describeError(error) } };
  }
}
