/**
 * Turns many "this record changed" calls into as few writes as keep them all durable: while a
 * write runs, every further call shares one follow-up write, which snapshots the record when it
 * starts and so includes every change made before it. A caller's promise resolves once a write
 * that began after its call has finished, so awaiting it means "my change is on disk".
 */
export function createCoalescingWriter(write: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  const begin = (): Promise<void> => {
    const current = write().finally(() => {
      if (running === current) running = null;
    });
    running = current;
    return current;
  };

  return () => {
    if (next) return next;
    if (!running) return begin();
    // A failed write is its own callers' problem; the follow-up still tries with newer state.
    next = running
      .catch(() => undefined)
      .then(() => {
        next = null;
        return begin();
      });
    return next;
  };
}
