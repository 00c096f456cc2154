import { describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger } from "../../core/logger.ts";
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

  it("keeps the error message and stack of a logged error", () => {
    const { lines, stream } = capture();
    createLogger("info", stream).error({ err: new Error("CUDA out of memory") }, "generation failed");
    const record = JSON.parse(lines[0] as string);
    expect(record.err.message).toBe("CUDA out of memory");
    expect(record.err.stack).toContain("logger.test.ts");
  });

  it("formats a record as one readable line for the terminal", () => {
    const line = JSON.stringify({ level: 40, time: 1, app: "gems-bot", msg: "skipped a skill file", path: "/x/SKILL.md" });
    expect(formatLogLine(line)).toBe("gems: warning: skipped a skill file (path=/x/SKILL.md)");
  });
});
