/** Waits like a model server would, and stops early, as a real request does, when aborted. */
export function simulateLatency(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Named "AbortError" so callers treat it like fetch's and the SDK's abort errors. */
function abortError(): Error {
  const error = new Error("The simulated model request was aborted.");
  error.name = "AbortError";
  return error;
}
