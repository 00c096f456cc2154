import { describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger, createRepeatedErrorLog } from "../../core/logger.ts";
import { rememberSecrets } from "../../core/secrets.ts";
import { formatLogLine } from "../../bots/cli/log-lines.ts";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe("logging", () => {
  it("never writes a token or key, wherever it sits in the record", () => {
    const { lines, stream } = capture();
    const logger = createLogger("info", stream);
    logger.info(
      {
        token: "discord-token-1",
        config: { apiKey: "sk-secret-2", slack: { botToken: "xoxb-3", signingSecret: "sig-4" } },
        request: { headers: { authorization: "Bearer sk-secret-5" } },
      },
      "starting",
    );
    logger.child({ jobId: "j1", surface: { botToken: "xoxb-7" } }).warn({ mllm: { apiKey: "sk-secret-6" } }, "retrying");
    const text = lines.join("\n");
    for (const secret of ["discord-token-1", "sk-secret-2", "xoxb-3", "sig-4", "sk-secret-5", "sk-secret-6", "xoxb-7"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
    expect(lines).toHaveLength(2);
  });

  it("logs an error as its type and own message only, without stack or causes, at the default level", () => {
    const { lines, stream } = capture();
    const cause = new Error("socket hang up at 10.0.0.5");
    createLogger("info", stream).error({ err: new Error("CUDA out of memory", { cause }) }, "generation failed");
    const record = JSON.parse(lines[0] as string);
    expect(record.err).toEqual({ type: "Error", message: "CUDA out of memory" });
    expect(lines[0]).not.toContain("socket hang up");
    expect(lines[0]!.length).toBeLessThan(300);
  });

  it("keeps the stack and the causes of a logged error at debug", () => {
    const { lines, stream } = capture();
    const cause = new Error("socket hang up");
    createLogger("debug", stream).error({ err: new Error("CUDA out of memory", { cause }) }, "generation failed");
    const record = JSON.parse(lines[0] as string);
    expect(record.err.message).toContain("CUDA out of memory");
    expect(record.err.stack).toContain("logger.test.ts");
    expect(record.err.stack).toContain("socket hang up");
  });

  it.each(["info", "debug"])("never writes a known key that a server echoed into an error, at %s", (level) => {
    rememberSecrets("sk-live-ECHOED0123456789");
    const { lines, stream } = capture();
    const echoed = new Error("Incorrect API key provided: sk-live-ECHOED0123456789. Masked: sk-liv***6789 and sk-...789");
    createLogger(level, stream).error({ err: new Error("outer", { cause: echoed }), body: echoed.message }, "call failed");
    const text = lines.join("\n");
    expect(text).not.toContain("ECHOED0123456789");
    expect(text).not.toContain("sk-liv***6789");
    expect(text).not.toContain("sk-...789");
    expect(text).toContain("[redacted]");
  });

  it("formats a record as one readable line for the terminal", () => {
    const line = JSON.stringify({ level: 40, time: 1, app: "gems-bot", msg: "skipped a skill file", path: "/x/SKILL.md" });
    expect(formatLogLine(line)).toBe("gems: warning: skipped a skill file (path=/x/SKILL.md)");
  });

  it("logs an error that keeps coming once a minute, with how many times it came since", () => {
    const { lines, stream } = capture();
    let now = 0;
    const report = createRepeatedErrorLog(createLogger("info", stream), "the queue worker reported an error", { now: () => now });
    const refused = (): Error => new Error("connect ECONNREFUSED 127.0.0.1:6379");
    for (; now < 30_000; now += 500) report(refused());
    report(new Error("READONLY You can't write against a read only replica."));
    expect(lines).toHaveLength(2);
    for (; now < 61_000; now += 500) report(refused());
    expect(lines).toHaveLength(3);
    const records = lines.map((line) => JSON.parse(line) as { msg: string; err: { message: string }; repeatedSinceLast?: number });
    expect(records.map((r) => [r.err.message, r.repeatedSinceLast])).toEqual([
      ["connect ECONNREFUSED 127.0.0.1:6379", undefined],
      ["READONLY You can't write against a read only replica.", undefined],
      ["connect ECONNREFUSED 127.0.0.1:6379", 119],
    ]);
    expect(records.every((r) => r.msg === "the queue worker reported an error")).toBe(true);
  });
});
