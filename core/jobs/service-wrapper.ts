/**
 * The wrappers in front of a job service (moderation, default skills, the quota day index) each
 * replace one or two methods and must leave every other one, present or added later, as it is:
 * a Proxy does that without listing the interface.
 */
import type { JobService } from "./types.ts";

export function overriding(jobs: JobService, overrides: Partial<JobService>): JobService {
  return new Proxy(jobs, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof JobService];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
