import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Keyv } from "keyv";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteKeyv } from "../../core/memory/sqlite-keyv.ts";

let dataDir: string;
const opened: Keyv[] = [];
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "gems-keyv-"));
});
afterEach(async () => {
  for (const keyv of opened.splice(0)) await keyv.disconnect();
  await rm(dataDir, { recursive: true, force: true });
});

async function open(namespace: string): Promise<Keyv> {
  const keyv = await openSqliteKeyv(dataDir, namespace);
  opened.push(keyv);
  return keyv;
}

describe("openSqliteKeyv", () => {
  it("two namespaces in the same file keep the same key apart", async () => {
    const events = await open("events");
    const refs = await open("refs");
    await events.set("job-1", ["iteration.started"]);
    await refs.set("job-1", { channel: "c1" });
    expect(await events.get("job-1")).toEqual(["iteration.started"]);
    expect(await refs.get("job-1")).toEqual({ channel: "c1" });
  });

  it("concurrent writes through two connections to one file all land", async () => {
    const events = await open("events");
    const refs = await open("refs");
    await Promise.all(
      Array.from({ length: 25 }, (_, i) => [events.set(`k${i}`, i), refs.set(`k${i}`, -i)]).flat(),
    );
    expect(await events.get("k24")).toBe(24);
    expect(await refs.get("k24")).toBe(-24);
  });
});
