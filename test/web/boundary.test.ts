/**
 * The studio is a surface: it talks to the job service and renders events. These checks read its
 * import lines, so a shortcut to a model, the agent loop or a chat SDK fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const folder = join(root, "bots/web");

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)]
    .map((m) => m[1] as string)
    .map((s) => (s.startsWith(".") ? relative(root, resolve(dirname(file), s)) : s));
}

const sources = readdirSync(folder)
  .filter((name) => name.endsWith(".ts"))
  .map((name) => join(folder, name));

describe("web studio boundaries", () => {
  it("finds the files it checks", () => {
    expect(importsOf(join(folder, "studio.ts"))).toContain("core/jobs/types.ts");
  });

  it("never reaches a model, the agent loop, the sim servers or a chat SDK", () => {
    const forbidden = (s: string) =>
      s.startsWith("core/models/") || /^core\/agent\/(run-job|steps|next-step|feedback)\.ts$/.test(s) || s.startsWith("servers/") || s.startsWith("config/") || /^(discord\.js|@discordjs\/|@slack\/)/.test(s);
    const offenders = sources.flatMap((file) => importsOf(file).filter(forbidden).map((s) => `${relative(root, file)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  it("the page never writes HTML from strings", () => {
    const publicDir = join(folder, "public");
    const offenders = readdirSync(publicDir)
      .filter((name) => name.endsWith(".js"))
      .filter((name) => /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/.test(readFileSync(join(publicDir, name), "utf8")));
    expect(offenders).toEqual([]);
  });
});
