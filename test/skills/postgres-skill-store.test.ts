/**
 * Team skills and default skills in PostgreSQL (real server, a schema per test), the Redis
 * notice that makes another library reload, and `gems migrate --to postgres` copying the files.
 */
import { describe, expect, it } from "vitest";
import { migrateToPostgres } from "../../bots/cli/migrate-command.ts";
import { announcingSkillChanges, followSkillChanges } from "../../core/jobs/distributed/skill-sync.ts";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { createPostgresSkillDefaultStore, createPostgresTeamSkillStore } from "../../core/skills/postgres-skill-store.ts";
import { createTeamSkillLibrary } from "../../core/skills/team-skills.ts";
import { TEST_DATABASE_URL, testDatabase } from "../support/postgres.ts";
import { cleanPrefixAfter, testRedisLink, uniquePrefix } from "../support/redis.ts";
import { onCleanup } from "../support/cleanup.ts";
import { skills, tempDir } from "../jobs/job-harness.ts";

const skillText = (marker: string): string => `# Skill: Watercolour Wash

## Description
Use when the request asks for a watercolour look.

## Instructions
${marker}. Keep paper texture visible.
`;

describe("team skills in PostgreSQL", () => {
  it("keeps every version with who added it and when, and serves the newest", async () => {
    const db = await testDatabase();
    const store = createPostgresTeamSkillStore(db);
    expect(await store.save("watercolour-wash", "v1 text", { by: "web:ada", at: "2026-11-29T10:00:00.000Z" })).toBe(1);
    expect(await store.save("watercolour-wash", "v2 text", { by: "slack:T1:U2", at: "2026-11-29T11:00:00.000Z" })).toBe(2);
    expect(await store.save("ink-line", "ink", { by: "web:ada", at: "2026-11-29T12:00:00.000Z" })).toBe(1);

    expect(await store.current()).toEqual([
      { id: "ink-line", version: 1, text: "ink", by: "web:ada", at: "2026-11-29T12:00:00.000Z" },
      { id: "watercolour-wash", version: 2, text: "v2 text", by: "slack:T1:U2", at: "2026-11-29T11:00:00.000Z" },
    ]);
    expect(await store.versions("watercolour-wash")).toEqual([
      { id: "watercolour-wash", version: 1, by: "web:ada", at: "2026-11-29T10:00:00.000Z" },
      { id: "watercolour-wash", version: 2, by: "slack:T1:U2", at: "2026-11-29T11:00:00.000Z" },
    ]);
    await expect(store.save("Not An Id", "x", { by: "web:ada", at: "2026-11-29T12:00:00.000Z" })).rejects.toThrow(/not a valid skill id/);
  });

  it("gives saves of one skill racing from two pools distinct version numbers", async () => {
    const db = await testDatabase();
    const other = await testDatabase({ schema: db.schema, isManual: true });
    onCleanup(() => other.close());
    const [a, b] = [createPostgresTeamSkillStore(db), createPostgresTeamSkillStore(other)];
    const meta = { by: "web:ada", at: "2026-11-29T10:00:00.000Z" };
    const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).save("watercolour-wash", `text ${i}`, meta)));
    expect([...versions].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("stores, replaces and forgets a person's default skill", async () => {
    const db = await testDatabase();
    const defaults = createPostgresSkillDefaultStore(db);
    expect(await defaults.get("web:ada")).toBeNull();
    await defaults.set("web:ada", "watercolour-wash");
    await defaults.set("web:bob", "none");
    await defaults.set("web:ada", "auto");
    expect(await defaults.get("web:ada")).toBe("auto");
    await defaults.set("web:ada", null);
    expect(await defaults.get("web:ada")).toBeNull();
    expect(await createPostgresSkillDefaultStore(db).get("web:bob")).toBe("none");
  });

  it("a library saving through the announcing store makes another library reload at once", async () => {
    const db = await testDatabase();
    const prefix = uniquePrefix("skills");
    cleanPrefixAfter(prefix);
    const [writerLink, readerLink] = [await testRedisLink(prefix), await testRedisLink(prefix)];
    onCleanup(() => writerLink.close(), () => readerLink.close());
    const bundled = await skills();
    const writer = await createTeamSkillLibrary(bundled, announcingSkillChanges(createPostgresTeamSkillStore(db), writerLink, (error) => expect.fail(String(error))));
    const reader = await createTeamSkillLibrary(bundled, createPostgresTeamSkillStore(db));
    let reloads = 0;
    let reloaded: () => void = () => undefined;
    const follower = await followSkillChanges(
      {
        reload: async () => {
          await reader.reload();
          reloads++;
          reloaded();
        },
      },
      readerLink,
      { pollMs: 3_600_000, onError: (error) => expect.fail(String(error)) },
    );
    onCleanup(() => follower.close());
    // The follower reloads once at subscription; wait for it so the next reload is the message's.
    await expect.poll(() => reloads).toBe(1);
    expect(reader.has("watercolour-wash")).toBe(false);

    const seen = new Promise<void>((resolve) => (reloaded = resolve));
    expect(await writer.add(skillText("Paint shadows ultramarine-5521"), "web:ada")).toMatchObject({ ok: true, version: 1 });
    await seen;
    expect(reader.has("watercolour-wash")).toBe(true);
    expect((await reader.load("watercolour-wash")).instructions).toContain("ultramarine-5521");
  });
  it("keeps a saved skill when the notice cannot be sent, and says so", async () => {
    const db = await testDatabase();
    const prefix = uniquePrefix("skills");
    cleanPrefixAfter(prefix);
    const link = await testRedisLink(prefix);
    await link.close();
    const problems: unknown[] = [];
    const library = await createTeamSkillLibrary(await skills(), announcingSkillChanges(createPostgresTeamSkillStore(db), link, (error) => problems.push(error)));
    expect(await library.add(skillText("Paint shadows ultramarine-9"), "web:ada")).toMatchObject({ ok: true, version: 1 });
    expect(library.has("watercolour-wash")).toBe(true);
    expect(await createPostgresTeamSkillStore(db).versions("watercolour-wash")).toHaveLength(1);
    expect(problems).toHaveLength(1);
  });
});

describe("gems migrate --to postgres with team skills", () => {
  it("copies every skill version and each default; a second run copies nothing and keeps defaults set since", async () => {
    const dir = await tempDir();
    const files = createFileTeamSkillStore(dir);
    await files.save("watercolour-wash", skillText("first"), { by: "discord:1", at: "2026-11-28T09:00:00.000Z" });
    await files.save("watercolour-wash", skillText("second"), { by: "discord:2", at: "2026-11-28T10:00:00.000Z" });
    await files.save("ink-line", skillText("ink").replace("Watercolour Wash", "Ink Line"), { by: "discord:1", at: "2026-11-28T11:00:00.000Z" });
    const fileDefaults = createFileSkillDefaultStore(dir);
    await fileDefaults.set("discord:1", "ink-line");
    await fileDefaults.set("slack:T1:U9", "none");
    const db = await testDatabase();

    const first = await migrateToPostgres(dir, TEST_DATABASE_URL, db.schema);
    expect(first).toMatchObject({ skillVersionsCopied: 3, skillVersionsAlreadyThere: 0, skillDefaultsCopied: 2, skillDefaultsAlreadyThere: 0 });
    const store = createPostgresTeamSkillStore(db);
    expect(await store.versions("watercolour-wash")).toEqual([
      { id: "watercolour-wash", version: 1, by: "discord:1", at: "2026-11-28T09:00:00.000Z" },
      { id: "watercolour-wash", version: 2, by: "discord:2", at: "2026-11-28T10:00:00.000Z" },
    ]);
    expect((await store.current()).map((s) => [s.id, s.version, s.text.includes("second") || s.text.includes("ink")])).toEqual([
      ["ink-line", 1, true],
      ["watercolour-wash", 2, true],
    ]);
    const defaults = createPostgresSkillDefaultStore(db);
    expect(await defaults.get("discord:1")).toBe("ink-line");
    expect(await defaults.get("slack:T1:U9")).toBe("none");

    await defaults.set("discord:1", "auto");
    const second = await migrateToPostgres(dir, TEST_DATABASE_URL, db.schema);
    expect(second).toMatchObject({ skillVersionsCopied: 0, skillVersionsAlreadyThere: 3, skillDefaultsCopied: 0, skillDefaultsAlreadyThere: 2 });
    expect(await defaults.get("discord:1")).toBe("auto");
  });
});
