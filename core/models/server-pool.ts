/**
 * Several servers behind one port. Each call goes to the least busy healthy server (in-flight
 * calls over capacity, then fewest calls so far); a server whose call fails for a server reason
 * (could not connect, 5xx or timeout after the adapter's own retries, rate limited) is taken
 * out at once, and the call moves to another server, so no job waits on a dead server while
 * another is free. An out server is probed (a cheap GET, not a job's call) after a backoff that
 * doubles per failed probe, and comes back when a probe answers.
 *
 * Refusals that another server would repeat (a bad request, a content policy, a cancelled
 * job) are passed through untouched and do not count against the server.
 */
import { BackendError, CancelledError, RateLimitError, describeError } from "../errors.ts";
import { TransientFailure } from "./backend-call.ts";
import type { ImageGenerator, ImageRequest, Mllm, MllmReply, MllmRequest } from "./ports.ts";

export interface PoolMember<T> {
  /** For stats and messages, e.g. "comfyui:gpu-1:8188". Never a URL with credentials. */
  name: string;
  target: T;
  /** Calls it takes at once. */
  capacity: number;
  /** Resolves when the server answers; used to bring an out server back. */
  probe: (signal: AbortSignal) => Promise<unknown>;
}

export interface ServerStats {
  server: string;
  capacity: number;
  inFlight: number;
  /** Calls sent to it (a call moved to another server counts on both). */
  calls: number;
  /** Calls that failed for a server reason. */
  failures: number;
  healthy: boolean;
  /** Why it is out, while it is. */
  lastError: string | null;
  /** While out: the wait before its next probe. */
  probeDelayMs: number | null;
}

export interface PoolOptions {
  /** First wait before probing an out server; doubles per failed probe. Default 1 s. */
  backoffBaseMs?: number;
  /** Default 60 s. */
  backoffMaxMs?: number;
  /** Default 5 s. */
  probeTimeoutMs?: number;
  /** "generator" or "mllm", for BackendError.backend and messages. */
  backend: string;
}

interface Server<T> {
  member: PoolMember<T>;
  inFlight: number;
  calls: number;
  failures: number;
  healthy: boolean;
  lastError: string | null;
  /** Doublings of the probe backoff; kept when a server that just came back fails again. */
  backoffLevel: number;
  probeDelayMs: number | null;
  cameBackAt: number | undefined;
  probeTimer: NodeJS.Timeout | undefined;
}

interface Waiter<T> {
  excluded: Set<Server<T>>;
  resolve: (server: Server<T>) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
}

/** Whether another server might succeed where this one failed. */
export function isServerFailure(error: unknown): boolean {
  if (error instanceof TransientFailure || error instanceof RateLimitError) return true;
  return error instanceof BackendError && (error.cause instanceof TransientFailure || error.cause instanceof RateLimitError);
}

export class ServerPool<T> {
  private readonly servers: Server<T>[];
  private readonly waiters: Waiter<T>[] = [];
  private closed = false;

  constructor(
    members: PoolMember<T>[],
    private readonly options: PoolOptions,
  ) {
    if (members.length === 0) throw new Error("A server pool needs at least one server.");
    this.servers = members.map((member) => ({
      member,
      inFlight: 0,
      calls: 0,
      failures: 0,
      healthy: true,
      lastError: null,
      backoffLevel: 0,
      probeDelayMs: null,
      cameBackAt: undefined,
      probeTimer: undefined,
    }));
  }

  /** Runs `call` on a server, moving to another when the server fails. */
  async run<R>(signal: AbortSignal | undefined, call: (target: T) => Promise<R>): Promise<R> {
    const excluded = new Set<Server<T>>();
    for (;;) {
      const server = await this.acquire(excluded, signal);
      try {
        return await call(server.member.target);
      } catch (error) {
        if (signal?.aborted || !isServerFailure(error)) throw error;
        this.takeOut(server, error);
        excluded.add(server);
      } finally {
        server.inFlight--;
        this.pump();
      }
    }
  }

  stats(): ServerStats[] {
    return this.servers.map((s) => ({
      server: s.member.name,
      capacity: s.member.capacity,
      inFlight: s.inFlight,
      calls: s.calls,
      failures: s.failures,
      healthy: s.healthy,
      lastError: s.lastError,
      probeDelayMs: s.healthy ? null : s.probeDelayMs,
    }));
  }

  /** Stops probing; calls waiting for a server are refused. */
  close(): void {
    this.closed = true;
    for (const server of this.servers) clearTimeout(server.probeTimer);
    for (const waiter of this.waiters.splice(0)) waiter.reject(new CancelledError("The server pool was closed."));
  }

  private acquire(excluded: Set<Server<T>>, signal: AbortSignal | undefined): Promise<Server<T>> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError(undefined, { cause: signal.reason }));
      const waiter: Waiter<T> = { excluded, resolve, reject, signal };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new CancelledError(undefined, { cause: signal?.reason }));
      };
      waiter.resolve = (server) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(server);
      };
      waiter.reject = (error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** Hands free servers to waiters, oldest first; refuses waiters no healthy server is left for. */
  private pump(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i] as Waiter<T>;
      const usable = this.servers.filter((s) => s.healthy && !waiter.excluded.has(s));
      if (usable.length === 0) {
        this.waiters.splice(i, 1);
        waiter.reject(this.allOutError());
        continue;
      }
      const free = usable.filter((s) => s.inFlight < s.member.capacity);
      if (free.length === 0) {
        i++;
        continue;
      }
      const best = free.reduce((a, b) => (load(b) < load(a) || (load(b) === load(a) && share(b) < share(a)) ? b : a));
      best.inFlight++;
      best.calls++;
      this.waiters.splice(i, 1);
      waiter.resolve(best);
    }
  }

  private takeOut(server: Server<T>, error: unknown): void {
    server.failures++;
    server.lastError = describeError(error);
    if (!server.healthy) return;
    server.healthy = false;
    // A server whose probe answers while its real calls fail (e.g. /models up, generation 500)
    // would otherwise come back every second and cost a call each time: it keeps its backoff.
    const isFlapping = server.cameBackAt !== undefined && Date.now() - server.cameBackAt < this.backoffMaxMs();
    server.backoffLevel = isFlapping ? server.backoffLevel + 1 : 0;
    this.scheduleProbe(server);
  }

  private scheduleProbe(server: Server<T>): void {
    if (this.closed) return;
    const base = this.options.backoffBaseMs ?? 1_000;
    const delay = Math.min(this.backoffMaxMs(), base * 2 ** server.backoffLevel);
    server.probeDelayMs = delay;
    server.probeTimer = setTimeout(() => void this.probe(server), delay);
    // A pool must not keep a finished CLI run alive.
    server.probeTimer.unref();
  }

  private async probe(server: Server<T>): Promise<void> {
    try {
      await server.member.probe(AbortSignal.timeout(this.options.probeTimeoutMs ?? 5_000));
      if (this.closed) return;
      server.healthy = true;
      server.lastError = null;
      server.cameBackAt = Date.now();
      this.pump();
    } catch (error) {
      server.backoffLevel++;
      server.lastError = describeError(error);
      this.scheduleProbe(server);
    }
  }

  private backoffMaxMs(): number {
    return this.options.backoffMaxMs ?? 60_000;
  }

  private allOutError(): BackendError {
    const reasons = this.servers.map((s) => `${s.member.name}: ${s.lastError ?? "failed this call"}`).join("; ");
    const noun = this.options.backend === "mllm" ? "MLLM" : "image generator";
    return new BackendError(
      `All ${this.servers.length} ${noun} servers are failing (${reasons}). They are probed and come back by themselves; try again later.`,
      this.options.backend,
    );
  }
}

const load = <T>(s: Server<T>): number => s.inFlight / s.member.capacity;
const share = <T>(s: Server<T>): number => s.calls / s.member.capacity;

export type ImageGeneratorPool = ImageGenerator & { stats(): ServerStats[]; close(): void };
export type MllmPool = Mllm & { stats(): ServerStats[]; close(): void };

export function createGeneratorPool(members: PoolMember<ImageGenerator>[], options: Omit<PoolOptions, "backend"> = {}): ImageGeneratorPool {
  const pool = new ServerPool(members, { ...options, backend: "generator" });
  return {
    name: `pool[${members.map((m) => m.name).join(", ")}]`,
    // A call may land on any member, so the pool takes only what every member takes.
    capabilities: {
      references: members.every((m) => m.target.capabilities?.references === true),
      edit: members.every((m) => m.target.capabilities?.edit === true),
    },
    generate: (request: ImageRequest): Promise<Uint8Array> => pool.run(request.signal, (generator) => generator.generate(request)),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}

export function createMllmPool(members: PoolMember<Mllm>[], options: Omit<PoolOptions, "backend"> = {}): MllmPool {
  const pool = new ServerPool(members, { ...options, backend: "mllm" });
  return {
    name: `pool[${members.map((m) => m.name).join(", ")}]`,
    chat: (request: MllmRequest): Promise<MllmReply> => pool.run(request.signal, (mllm) => mllm.chat(request)),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
