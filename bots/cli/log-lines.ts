/**
 * A pino destination for the terminal: the CLI's stdout is the job's output, so its few log
 * records go to stderr as one readable line each instead of JSON.
 */
import { Writable } from "node:stream";

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal" };
const HIDDEN = new Set(["level", "time", "pid", "hostname", "app", "msg"]);

export function formatLogLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVELS[Number(record["level"])] ?? "log";
  const details = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  return `gems: ${level}: ${String(record["msg"] ?? "")}${details.length ? ` (${details.join(", ")})` : ""}`;
}

export function terminalLogDestination(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) out.write(`${formatLogLine(line)}\n`);
      done();
    },
  });
}
