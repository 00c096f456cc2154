/**
 * The grammar of `/gems`: `/gems <prompt> [--skill id] [--iterations n] [--refine redraw|edit]`, `/gems skills`,
 * `/gems help`, and `/gems` alone (the modal). Only the shape is checked here; what the values
 * mean (a known skill, a range) is checked where the job is submitted, so every surface answers
 * the same way.
 */
import { MAX_ITERATIONS, MIN_ITERATIONS } from "../../core/agent/request.ts";
import { USAGE_DEFAULT_DAYS, USAGE_MAX_DAYS } from "../../core/jobs/usage-ledger.ts";
import { plainTextFromSlack } from "./mrkdwn.ts";

export type GemsCommand =
  | { kind: "modal" }
  | { kind: "help" }
  | { kind: "skills" }
  | { kind: "usage"; days: number }
  | { kind: "skill-add" }
  | { kind: "skill-default"; choice: string }
  | { kind: "create"; prompt: string; skill: string | undefined; iterations: number | undefined; refine?: string | undefined }
  | { kind: "invalid"; message: string };

const OPTION = /^--([a-z-]+)(?:=(.*))?$/;

export function parseGemsCommand(rawText: string): GemsCommand {
  // Some Slack clients turn straight quotes into curly ones; quoted text in a prompt ("a sign
  // that says “OPEN”") must still read as quoted.
  const text = plainTextFromSlack(rawText).replace(/[“”]/g, '"').replace(/[‘’]/g, "'").trim();
  if (text === "") return { kind: "modal" };
  const lowered = text.toLowerCase();
  if (lowered === "help") return { kind: "help" };
  if (lowered === "skills") return { kind: "skills" };
  // `/gems usage`, `/gems usage 30`, `/gems usage 30d`: a prompt never starts with "usage" + a number.
  const usage = /^usage(?:\s+(\d+)\s*d?)?$/.exec(lowered);
  if (usage) {
    const days = usage[1] === undefined ? USAGE_DEFAULT_DAYS : Number(usage[1]);
    if (days < 1 || days > USAGE_MAX_DAYS) return { kind: "invalid", message: `Usage covers 1 to ${USAGE_MAX_DAYS} days back, e.g. \`/gems usage 30d\` (got ${days}).` };
    return { kind: "usage", days };
  }
  // `/gems skill …` manages skills; a prompt that starts with the word "skill" needs more than one word after it anyway.
  const skillCommand = /^skill\s+(add|default)(?:\s+(.*))?$/i.exec(text);
  if (skillCommand) {
    const rest = (skillCommand[2] ?? "").trim();
    if ((skillCommand[1] as string).toLowerCase() === "add") return { kind: "skill-add" };
    if (rest === "" || /\s/.test(rest)) return { kind: "invalid", message: "Name one skill, or auto or none: `/gems skill default <id|auto|none>`." };
    return { kind: "skill-default", choice: rest };
  }

  const words: string[] = [];
  let skill: string | undefined;
  let iterations: number | undefined;
  let refine: string | undefined;
  const tokens = text.split(/(\s+)/);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const option = OPTION.exec(token);
    if (!option) {
      words.push(token);
      continue;
    }
    const name = option[1] as string;
    let value = option[2];
    if (value === undefined) {
      // tokens alternate word, whitespace, word: the value is two ahead.
      value = tokens[i + 2];
      if (value === undefined || value.startsWith("--")) {
        return { kind: "invalid", message: `The option --${name} needs a value, e.g. ${example(name)}.` };
      }
      i += 2;
    }
    if (name === "skill") {
      skill = value;
    } else if (name === "iterations") {
      // Only "is it a number" is decided here; 0, 11 or 2.5 go on to the shared range check.
      iterations = value.trim() === "" ? Number.NaN : Number(value);
      if (Number.isNaN(iterations)) {
        return { kind: "invalid", message: `Iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS} (got "${value}").` };
      }
    } else if (name === "refine") {
      // redraw or edit; checked where the job is submitted, as on every surface.
      refine = value;
    } else {
      return { kind: "invalid", message: `Unknown option --${name}. Use --skill <id>, --iterations <${MIN_ITERATIONS}-${MAX_ITERATIONS}> or --refine redraw|edit, or try /gems help.` };
    }
  }
  const prompt = words.join("").replace(/\s+/g, " ").trim();
  return { kind: "create", prompt, skill, iterations, ...(refine !== undefined ? { refine } : {}) };
}

function example(option: string): string {
  if (option === "skill") return "--skill spatial-layout";
  if (option === "iterations") return "--iterations 3";
  if (option === "refine") return "--refine edit";
  return `--${option} <value>`;
}
