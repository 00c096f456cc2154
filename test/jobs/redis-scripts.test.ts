import { createHash, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { defineScript } from "../../core/jobs/distributed/redis.ts";
import { onCleanup } from "../support/cleanup.ts";
import { cleanPrefixAfter, testRedisLink, uniquePrefix } from "../support/redis.ts";

describe("Redis scripts run by SHA1", () => {
  it("sends a script Redis does not hold once in full, then runs it by its SHA1", async () => {
    const prefix = uniquePrefix("scripts");
    cleanPrefixAfter(prefix);
    const link = await testRedisLink(prefix);
    onCleanup(() => link.close());
    // A source no Redis has seen (the comment makes it unique), so the first call meets NOSCRIPT.
    const source = `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash("sha1").update(source).digest("hex");
    const sentInFull: string[] = [];
    const evalInFull = link.commands.eval.bind(link.commands);
    link.commands.eval = ((...args: Parameters<typeof evalInFull>) => {
      sentInFull.push(String(args[0]));
      return evalInFull(...args);
    }) as typeof link.commands.eval;
    const script = defineScript(source);
    const counter = link.key("counter");
    expect(await script(link.commands, [counter], [2])).toBe(2);
    expect(sentInFull).toEqual([source]);
    expect(await link.commands.script("EXISTS", sha)).toEqual([1]);
    expect(await script(link.commands, [counter], [3])).toBe(5);
    expect(await script(link.commands, [counter], [4])).toBe(9);
    expect(sentInFull).toHaveLength(1);
  });

  it("passes the script's own errors through instead of retrying them", async () => {
    const prefix = uniquePrefix("scripts");
    cleanPrefixAfter(prefix);
    const link = await testRedisLink(prefix);
    onCleanup(() => link.close());
    const script = defineScript(`-- ${randomUUID()}\nreturn redis.error_reply('not today')`);
    await expect(script(link.commands, [link.key("x")], [])).rejects.toThrow(/not today/);
  });
});
