/** A clock tests move by hand, for the preview throttle (core/agent/previews.ts). */
import type { PreviewClock } from "../../core/agent/previews.ts";

export interface ManualClock extends PreviewClock {
  /** Moves time forward and runs every task that came due, in time order. */
  advance(ms: number): void;
  readonly pendingTasks: number;
}

export function createManualClock(startMs = 0): ManualClock {
  let nowMs = startMs;
  let tasks: Array<{ at: number; task: () => void }> = [];
  return {
    now: () => nowMs,
    schedule(task, ms) {
      const entry = { at: nowMs + ms, task };
      tasks.push(entry);
      return () => {
        tasks = tasks.filter((t) => t !== entry);
      };
    },
    advance(ms) {
      const until = nowMs + ms;
      for (;;) {
        const due = tasks.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        tasks = tasks.filter((t) => t !== due);
        nowMs = due.at;
        due.task();
      }
      nowMs = until;
    },
    get pendingTasks() {
      return tasks.length;
    },
  };
}
