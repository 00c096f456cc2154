/**
 * Chat bots connect before the job service starts, so that events they missed while down are
 * replayed to them. A command can therefore arrive while the service is still loading its jobs
 * (people retry right after a restart). The gate holds such commands until the service has
 * started, and answers "starting, try again" if that takes longer than a person should wait.
 * Reads (status, list, events) and subscriptions pass straight through.
 */
import type { JobService, Refusal } from "../core/jobs/types.ts";
import { waitAtMost } from "../core/bounded-wait.ts";

/** Commands that change jobs; each returns a Result, so a refusal fits every one of them. */
const COMMANDS = new Set<PropertyKey>(["submit", "cancel", "pick", "continue", "addFeedback", "setSurfaceRef"]);

export const STARTING_MESSAGE = "GEMS Bot is starting. Try again in a few seconds.";
const DEFAULT_WAIT_MS = 10_000;

export interface StartupGate {
  /** The service as the surfaces see it. */
  jobs: JobService;
  /** The service has started: held commands go through, new ones pass at once. */
  open(): void;
  /** Commands waiting at the gate right now. */
  held(): number;
}

export interface StartupGateOptions {
  waitMs?: number;
  /** Called when a command starts waiting, e.g. to log it. */
  onHold?: (command: string) => void;
}

export function createStartupGate(jobs: JobService, options: StartupGateOptions = {}): StartupGate {
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  let isOpen = false;
  let held = 0;
  let markOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (markOpen = resolve));
  const starting: Refusal = { ok: false, reason: "unavailable", message: STARTING_MESSAGE };

  const whenOpen = async (command: string, run: () => Promise<unknown>): Promise<unknown> => {
    if (isOpen) return run();
    held++;
    options.onHold?.(command);
    const waited = await waitAtMost(opened, waitMs).finally(() => held--);
    return waited.isDone ? run() : starting;
  };

  const gated = new Proxy(jobs, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      const method = value.bind(target) as (...args: unknown[]) => Promise<unknown>;
      return COMMANDS.has(property) ? (...args: unknown[]) => whenOpen(String(property), () => method(...args)) : method;
    },
  });
  return {
    jobs: gated,
    open() {
      isOpen = true;
      markOpen();
    },
    held: () => held,
  };
}
