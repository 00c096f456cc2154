/**
 * Reads one SKILL.md. Two formats are accepted:
 * - the GEMS format: `# Skill: <Name>`, `## Description`, then `## Instructions` (all text below it);
 * - YAML front matter with `name` and `description`, the markdown body being the instructions, as
 *   other agent tools write skills, so such a skill can be dropped in unchanged.
 *
 * The front-matter reader understands only what skill files use: `key: value` lines, quoted values,
 * `>` / `|` blocks and indented continuation lines. Anything else is reported, not guessed at.
 */
import type { Skill } from "./types.ts";

/**
 * A problem in a SKILL.md; `line` (1-based) is the line that is wrong, when one line is. Skills
 * added from chat are refused with it, so the author knows where to look.
 */
export class SkillFileError extends Error {
  override readonly name = "SkillFileError";
  constructor(
    message: string,
    readonly line: number | null = null,
  ) {
    super(message);
  }
}

const at = (message: string, index: number | undefined): SkillFileError => new SkillFileError(message, index === undefined ? null : index + 1);

/** Every description sits in the planner's context at once, so each one is kept short. */
export const MAX_DESCRIPTION_CHARS = 1024;

/** Parses the text of `skills/<id>/SKILL.md`; throws an Error whose message names the problem. */
export function parseSkillFile(id: string, text: string): Skill {
  const lines = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").split("\n");
  if (lines.every((line) => line.trim() === "")) throw at("the file is empty", 0);
  const skill = lines[0]?.trimEnd() === "---" ? parseFrontMatterFormat(id, lines) : parseGemsFormat(id, lines);
  checkDescription(skill.description);
  return skill;
}

function checkDescription(description: string): void {
  if (description.length > MAX_DESCRIPTION_CHARS) {
    throw new Error(
      `the description is ${description.length} characters long; keep it within ${MAX_DESCRIPTION_CHARS} ` +
        "(the planner holds every skill's description in its context), and move detail to the instructions",
    );
  }
}

// --- GEMS format -------------------------------------------------------------------------------

// Markdown allows a closing run of "#" after a space; it is not part of the heading text.
const TITLE = /^#\s+(.*?)(?:\s+#+)?\s*$/;
const SECTION = /^##\s+(.*?)(?:\s+#+)?\s*$/;
const FENCE = /^\s*(```|~~~)/;

function parseGemsFormat(id: string, lines: string[]): Skill {
  const headings = headingLines(lines);
  // The title comes before any section; a "# " line further down belongs to the text around it.
  const title = headings[0]?.level === 1 ? headings[0] : undefined;
  if (!title) {
    throw at('no title: start the file with "# Skill: <Name>", or with front matter that has a name', headings[0]?.line ?? lines.findIndex((l) => l.trim() !== ""));
  }
  const titleMatch = /^skill\s*:\s*(.*)$/i.exec(title.text);
  if (!titleMatch) throw at(`the title "# ${title.text}" must read "# Skill: <Name>"`, title.line);
  const name = titleMatch[1]?.trim() ?? "";
  if (name === "") throw at('the title has no name after "# Skill:"', title.line);

  const sections = headings.filter((h) => h.level === 2);
  const instructionsAt = sections.find((h) => /^instructions$/i.test(h.text));
  const descriptionAt = sections.find((h) => /^description$/i.test(h.text));
  if (!descriptionAt || (instructionsAt && descriptionAt.line > instructionsAt.line)) {
    // A "## Description" below "## Instructions" would be read as part of the instructions.
    throw at('missing description: add a "## Description" section above "## Instructions"', descriptionAt?.line);
  }
  if (!instructionsAt) throw at('missing instructions: add a "## Instructions" section after the description', undefined);

  const stray = sections.find((h) => h.line > descriptionAt.line && h.line < instructionsAt.line);
  if (stray) {
    // Only two sections are read; failing loudly beats dropping text the author meant to be used.
    throw at(
      `unexpected section "## ${stray.text}" between the description and the instructions; ` +
        'move it below "## Instructions"',
      stray.line,
    );
  }

  const description = lines.slice(descriptionAt.line + 1, instructionsAt.line).join("\n").trim();
  if (description === "") throw at('missing description: the "## Description" section is empty', descriptionAt.line);
  const instructions = lines.slice(instructionsAt.line + 1).join("\n").trim();
  if (instructions === "") throw at('empty instructions: the "## Instructions" section has no text', instructionsAt.line);
  return { id, name, description, instructions };
}

interface Heading {
  level: 1 | 2;
  text: string;
  line: number;
}

/** Level 1 and 2 headings outside fenced code, where a "## " line is only an example. */
function headingLines(lines: string[]): Heading[] {
  const headings: Heading[] = [];
  let fence: string | null = null;
  lines.forEach((line, index) => {
    const fenceMatch = FENCE.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1] ?? "";
      if (fence === null) fence = marker;
      else if (fence === marker) fence = null;
      return;
    }
    if (fence !== null) return;
    const section = SECTION.exec(line);
    if (section) {
      headings.push({ level: 2, text: section[1] ?? "", line: index });
      return;
    }
    const title = TITLE.exec(line);
    if (title) headings.push({ level: 1, text: title[1] ?? "", line: index });
  });
  return headings;
}

// --- front-matter format -----------------------------------------------------------------------

function parseFrontMatterFormat(id: string, lines: string[]): Skill {
  const close = lines.findIndex((line, index) => index > 0 && /^(---|\.\.\.)\s*$/.test(line));
  if (close < 0) throw at('unterminated front matter: the "---" on line 1 has no closing "---" line', 0);
  const fields = readFrontMatter(lines.slice(1, close));
  const name = fields.get("name")?.trim() ?? "";
  if (name === "") throw new Error('no name: the front matter needs a "name: <Name>" line');
  const description = fields.get("description")?.trim() ?? "";
  if (description === "") throw new Error('missing description: the front matter needs a "description:" line');
  const instructions = lines.slice(close + 1).join("\n").trim();
  if (instructions === "") throw new Error("empty instructions: there is no text after the front matter");
  return { id, name, description, instructions };
}

const KEY_VALUE = /^([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$/;
const BLOCK_HEADER = /^([>|])([+-]?)[1-9]?([+-]?)\s*(?:#.*)?$/;

/**
 * Top-level keys of the front matter with their string values. Keys whose value is nested
 * (an indented map or list, e.g. `metadata:`) are kept as their raw text; only name and
 * description are used, so their shape does not matter.
 */
function readFrontMatter(lines: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? "";
    const lineNumber = index + 2; // the opening "---" is line 1
    index += 1;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const match = KEY_VALUE.exec(line.trimEnd());
    if (!match || /^\s/.test(line)) {
      throw new SkillFileError(`front matter line ${lineNumber} is not a "key: value" line: ${line.trim()}`, lineNumber);
    }
    const key = match[1] ?? "";
    const raw = (match[2] ?? "").trim();
    const nested: string[] = [];
    while (index < lines.length && (/^\s/.test(lines[index] ?? "") || (lines[index] ?? "") === "")) {
      nested.push(lines[index] ?? "");
      index += 1;
    }
    if (fields.has(key)) throw new SkillFileError(`front matter line ${lineNumber} repeats the key "${key}"`, lineNumber);
    fields.set(key, readValue(key, raw, nested, lineNumber));
  }
  return fields;
}

function readValue(key: string, raw: string, nested: string[], lineNumber: number): string {
  const block = BLOCK_HEADER.exec(raw);
  if (block) return readBlock(block[1] === "|" ? "literal" : "folded", nested);
  const continuation = nested.map((line) => line.trim()).filter((line) => line !== "");
  if (raw === "") return continuation.join("\n");
  if (raw.startsWith('"') || raw.startsWith("'")) {
    const quoted = [raw, ...continuation].join(" ");
    return unquote(key, quoted, lineNumber);
  }
  // A plain value may wrap onto indented lines; YAML joins them with single spaces.
  return [stripComment(raw), ...continuation].join(" ").trim();
}

function stripComment(value: string): string {
  const at = value.search(/\s#/);
  return at < 0 ? value : value.slice(0, at);
}

function unquote(key: string, value: string, lineNumber: number): string {
  const quote = value[0];
  const end = quote === '"' ? findClosingDoubleQuote(value) : findClosingSingleQuote(value);
  const rest = end < 0 ? "" : stripComment(value.slice(end + 1)).trim();
  if (end < 0 || rest !== "") {
    throw new SkillFileError(`front matter line ${lineNumber}: the quoted value of "${key}" is not closed properly`, lineNumber);
  }
  const inner = value.slice(1, end);
  if (quote === "'") return inner.replace(/''/g, "'");
  return inner.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped));
}

function findClosingDoubleQuote(value: string): number {
  for (let i = 1; i < value.length; i += 1) {
    if (value[i] === "\\") i += 1;
    else if (value[i] === '"') return i;
  }
  return -1;
}

function findClosingSingleQuote(value: string): number {
  for (let i = 1; i < value.length; i += 1) {
    if (value[i] !== "'") continue;
    if (value[i + 1] === "'") i += 1;
    else return i;
  }
  return -1;
}

/** A `|` block keeps its line breaks; a `>` block joins lines with spaces, blank lines separating paragraphs. */
function readBlock(style: "literal" | "folded", nested: string[]): string {
  const indents = nested.filter((line) => line.trim() !== "").map((line) => /^\s*/.exec(line)?.[0].length ?? 0);
  const indent = indents.length > 0 ? Math.min(...indents) : 0;
  const body = nested.map((line) => line.slice(indent).trimEnd());
  if (style === "literal") return body.join("\n").trim();
  const paragraphs: string[] = [];
  let current: string[] = [];
  for (const line of body) {
    if (line === "") {
      if (current.length > 0) paragraphs.push(current.join(" "));
      current = [];
    } else {
      current.push(line);
    }
  }
  if (current.length > 0) paragraphs.push(current.join(" "));
  return paragraphs.join("\n");
}
