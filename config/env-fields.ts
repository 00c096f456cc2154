/**
 * The building blocks of the environment schema: how one variable is read (trimmed, empty as
 * unset) and what its error says. Each area's settings file (models.ts, jobs-settings.ts,
 * surfaces.ts, scale-out.ts, usage-settings.ts, moderation-settings.ts) lists its variables with
 * these; schema.ts joins them.
 */
import { z } from "zod";

export type Env = Record<string, string | undefined>;

/** The parsed values of an area's variables. */
export type EnvOf<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

export const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

export const url = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const trimmed = value.trim();
    try {
      const parsed = new URL(trimmed);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
      return z.NEVER;
    }
    return trimmed.replace(/\/+$/, "");
  });

/** Like url, but kept exactly as given: an OIDC issuer must equal the provider's own, trailing slash included (Auth0 has one). */
export const exactUrl = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const trimmed = value.trim();
    if (!/^https?:\/\//.test(trimmed) || !URL.canParse(trimmed)) {
      ctx.addIssue({ code: "custom", message: "must be an http:// or https:// URL" });
      return z.NEVER;
    }
    return trimmed;
  });
/** A connection URL of one of `protocols` (e.g. postgres:, redis:). */
export function serviceUrl(protocols: readonly string[], what: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const trimmed = value.trim();
      let protocol = "";
      try {
        protocol = new URL(trimmed).protocol;
      } catch {
        // Reported below.
      }
      if (!protocols.includes(protocol)) {
        ctx.addIssue({ code: "custom", message: `must be a ${what} URL (${protocols.map((p) => `${p}//`).join(" or ")})` });
        return z.NEVER;
      }
      return trimmed;
    });
}

export function pattern(regex: RegExp, message: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      if (!regex.test(value.trim())) {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }
      return value.trim();
    });
}

export function integer(min: number, max: number, fallback: number) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const n = Number(value.trim());
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });
}

export function choice<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const normalized = value.trim().toLowerCase();
      if (!(values as readonly string[]).includes(normalized)) {
        ctx.addIssue({ code: "custom", message: `must be one of ${values.join(", ")}` });
        return z.NEVER;
      }
      return normalized as T[number];
    });
}

export function flag(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const normalized = value.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(normalized)) return true;
      if (["false", "0", "no", "off"].includes(normalized)) return false;
      ctx.addIssue({ code: "custom", message: "must be true or false" });
      return z.NEVER;
    });
}

// Person ids carry their surface ("discord:123") so an admin on one platform is not one on another.
export const personIds = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const ids = (value ?? "")
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== "");
    const bad = ids.find((id) => !/^[a-z][a-z0-9-]*:\S+$/.test(id));
    if (bad !== undefined) {
      ctx.addIssue({ code: "custom", message: `must be a comma-separated list of surface:id person ids ("${bad}" has no surface)` });
      return z.NEVER;
    }
    return [...new Set(ids)];
  });

export const size = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const match = /^(\d{2,5})x(\d{2,5})$/.exec(value.trim());
    if (!match) {
      ctx.addIssue({ code: "custom", message: "must be WIDTHxHEIGHT in pixels" });
      return z.NEVER;
    }
    return { width: Number(match[1]), height: Number(match[2]) };
  });

/** One server of a pool: its URL and how many calls it takes at once. */
export interface ServerSpec {
  url: string;
  capacity: number;
}

/**
 * A comma-separated list of http(s) URLs, each with an optional `#N` capacity suffix:
 * "http://gpu-1:8188#2,http://gpu-2:8188". Capacity 0 in a spec means "not given"; the loader
 * fills in the default for the generator kind.
 */
export const serverList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    const specs: ServerSpec[] = [];
    for (const raw of value.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
      const match = /^(.*?)(?:#(\d+))?$/.exec(raw) as RegExpExecArray;
      const address = (match[1] as string).replace(/\/+$/, "");
      const capacity = match[2] === undefined ? 0 : Number(match[2]);
      try {
        const parsed = new URL(address);
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http");
      } catch {
        ctx.addIssue({ code: "custom", message: `must be an http:// or https:// URL, or several separated by commas, each may end in #capacity ("${raw.replace(/\/\/[^@/]*@/, "//***@")}" is not)` });
        return z.NEVER;
      }
      if (match[2] !== undefined && (capacity < 1 || capacity > 256)) {
        ctx.addIssue({ code: "custom", message: `capacity #${match[2]} must be a whole number from 1 to 256` });
        return z.NEVER;
      }
      specs.push({ url: address, capacity });
    }
    if (specs.length === 0) return undefined;
    if (new Set(specs.map((spec) => spec.url)).size !== specs.length) {
      ctx.addIssue({ code: "custom", message: "lists the same server twice; give it a capacity (#N) instead" });
      return z.NEVER;
    }
    return specs;
  });
