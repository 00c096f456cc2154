/**
 * The Slack bot talks to the job service through its contract only, and to Slack only through
 * @slack/bolt (whose re-exported types and WebClient keep one version of the SDK in play).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const folder = join(root, "bots/slack");

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)].map((m) => {
    const specifier = m[1] as string;
    return specifier.startsWith(".") ? relative(root, resolve(dirname(file), specifier)) : specifier;
  });
}

const files = readdirSync(folder).filter((name) => name.endsWith(".ts")).map((name) => join(folder, name));
const ALLOWED_CORE = new Set([
  "core/jobs/types.ts",
  "core/jobs/vote-text.ts",
  // The team-skills contract (list, add, defaults), as JobService is for jobs.
  "core/jobs/team-skills-service.ts",
  "core/agent/events.ts",
  "core/agent/request.ts",
  "core/memory/stores.ts",
  "core/memory/trajectory.ts",
  "core/skills/types.ts",
  "core/errors.ts",
  // Pure byte sniffing, to name uploaded files for their format (JPEG and WebP from generators).
  "core/images/image-type.ts",
  // The checklist rows every surface shows (regressions, replaced questions): one derivation for all.
  "core/memory/checklist.ts",
  // Provenance written into uploaded files: container blocks only, no decoding.
  "core/images/provenance.ts",
  // The same count, size and type checks for reference images on every surface (no sharp, no I/O).
  "core/images/reference-images.ts",
  // The usage ledger's read side and its wording (cost line, /gems usage): pure, no I/O.
  "core/jobs/usage-ledger.ts",
  // Waiting at most so long (a timer and a race, no I/O): how long a stop waits for Slack.
  "core/bounded-wait.ts",
]);

describe("bots/slack's dependencies", () => {
  it("finds the files and imports it checks", () => {
    expect(files.length).toBeGreaterThan(10);
    expect(importsOf(join(folder, "index.ts"))).toContain("@slack/bolt");
  });

  it("reaches core only through the job service's contract and the shared types", () => {
    const outside = files.flatMap((file) => importsOf(file).filter((s) => s.startsWith("core/") && !ALLOWED_CORE.has(s)).map((s) => `${relative(root, file)} imports ${s}`));
    expect(outside).toEqual([]);
  });

  it("imports no other bot, no server, no config loader, and no Slack package but @slack/bolt", () => {
    const forbidden = files.flatMap((file) =>
      importsOf(file)
        .filter((s) => (/^(bots|servers|config)\//.test(s) && !s.startsWith("bots/slack/")) || (s.startsWith("@slack/") && s !== "@slack/bolt") || s.startsWith("discord"))
        .map((s) => `${relative(root, file)} imports ${s}`),
    );
    expect(forbidden).toEqual([]);
  });
});
