/**
 * Waiting for something that may never come (a server that went away, a step that ignores its
 * signal), at most so long: shutdowns, health checks and start-up gates all need it.
 */

export type Waited<T> = { isDone: true; value: T } | { isDone: false };

/**
 * Resolves with `work`'s value once it settles, or `{ isDone: false }` after `ms`, whichever is
 * first; a rejection of `work` within the time rejects. The timer is cleared when `work` wins and
 * never keeps the process alive, and `work` is left to settle on its own.
 */
export async function waitAtMost<T>(work: Promise<T>, ms: number): Promise<Waited<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Waited<T>>((resolve) => {
    timer = setTimeout(() => resolve({ isDone: false }), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then((value): Waited<T> => ({ isDone: true, value })), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
