/**
 * `gems backends`: one line per configured model server (every member of a pool), saying
 * whether it answers, what it serves, and how long it took, so an operator can check a setup
 * before inviting the team. Exit 1 when any server is down. URLs are printed without
 * credentials or query strings, and keys only ever travel in the Authorization header.
 */
import type { Config } from "../../config/schema.ts";
import { redact } from "../../core/models/backend-call.ts";
import { probeServer } from "../../core/models/server-probe.ts";
import { listServers, type ServerToCheck } from "../model-factory.ts";

export interface BackendsOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

/** The URL as it is safe to print: scheme, host and path; no user:password@, no ?query. */
export function printableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/$/, "")}`;
  } catch {
    return "(invalid URL)";
  }
}

async function check(server: ServerToCheck, options: BackendsOptions): Promise<{ line: string; isUp: boolean }> {
  const now = options.now ?? performance.now.bind(performance);
  const where = `${server.role} ${server.kind} ${printableUrl(server.url)}${server.capacity !== null ? ` (capacity ${server.capacity})` : ""}`;
  const configured = server.configured ? `; configured: ${server.configured}` : "";
  const started = now();
  try {
    const serves = await probeServer(server.kind, server.url, {
      apiKey: server.apiKey,
      model: server.model,
      fetch: options.fetch,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
    const ms = Math.round(now() - started);
    return { line: redact(`up    ${where}: ${ms} ms, ${serves}${configured}`, server.apiKey), isUp: true };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { line: redact(`DOWN  ${where}: ${reason}${configured}`, server.apiKey), isUp: false };
  }
}

/** Prints the report to `out`; resolves with the exit code (0 all up, 1 any down). */
export async function checkBackends(config: Readonly<Config>, out: (line: string) => void, options: BackendsOptions = {}): Promise<number> {
  if (config.mllm.kind === "sim") out("sim   MLLM: simulated, offline (nothing to check)");
  if (config.generator.kind === "sim") out("sim   generator: simulated, offline (nothing to check)");
  const servers = listServers(config.mllm, config.generator);
  const results = await Promise.all(servers.map((server) => check(server, options)));
  for (const result of results) out(result.line);
  const down = results.filter((result) => !result.isUp).length;
  if (servers.length > 0) out(down === 0 ? `all ${servers.length} servers answer` : `${down} of ${servers.length} servers do not answer`);
  return down === 0 ? 0 : 1;
}
