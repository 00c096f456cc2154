/**
 * One cheap request per kind of server that says whether it answers and what it serves. The
 * pool uses it to bring an out server back; `gems backends` prints what it finds. A probe
 * resolves with a short description and throws when the server does not answer usefully.
 * It never sends or prints a key beyond the Authorization header.
 */
import { describeCause, redact, shorten } from "./backend-call.ts";

export type ServerKind = "openai-compatible" | "gems-http" | "openai" | "comfyui" | "a1111";

export interface ProbeOptions {
  apiKey?: string;
  /** openai-compatible: the model calls will ask for; a server that does not list it is not usable. */
  model?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

async function get(url: string, options: ProbeOptions): Promise<Response> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  try {
    return await fetchImpl(url, {
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      signal: options.signal ?? AbortSignal.timeout(5_000),
    });
  } catch (error) {
    throw new Error(`no answer (${describeCause(error)})`, { cause: error });
  }
}

async function getJson(url: string, options: ProbeOptions): Promise<any> {
  const response = await get(url, options);
  if (response.status === 401 || response.status === 403) throw new Error(`refused our credentials (${response.status})`);
  if (!response.ok) throw new Error(`answered ${response.status} at ${new URL(url).pathname}`);
  try {
    return await response.json();
  } catch {
    throw new Error(`answered something that is not JSON at ${new URL(url).pathname}`);
  }
}

/** What the server at `url` serves, in a few words; throws with the reason when it is not usable. */
export async function probeServer(kind: ServerKind, url: string, options: ProbeOptions = {}): Promise<string> {
  const root = url.replace(/\/+$/, "");
  try {
    switch (kind) {
      case "comfyui": {
        const stats = await getJson(`${root}/system_stats`, options);
        const version = stats?.system?.comfyui_version;
        const device = stats?.devices?.[0]?.name;
        return [`ComfyUI ${version ?? "(version unknown)"}`, device ? `on ${String(device).split(" : ")[0]}` : ""].filter(Boolean).join(" ");
      }
      case "a1111": {
        const options_ = await getJson(`${root}/sdapi/v1/options`, options);
        return `checkpoint ${options_?.sd_model_checkpoint ?? "(unknown)"}`;
      }
      case "openai-compatible":
      case "openai": {
        const models = await getJson(`${root}/models`, options);
        const ids: string[] = Array.isArray(models?.data) ? models.data.map((m: { id?: unknown }) => m?.id).filter((id: unknown) => typeof id === "string") : [];
        const listed = ids.length === 0 ? "no models" : `${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ` and ${ids.length - 3} more` : ""}`;
        // A server that does not serve the configured model answers every call with 404.
        if (kind === "openai-compatible" && options.model && ids.length > 0 && !ids.includes(options.model)) {
          throw new Error(`does not serve ${options.model} (it lists ${listed}); set GEMS_MLLM_MODEL to one it serves`);
        }
        return ids.length === 0 ? "lists no models" : `serves ${listed}`;
      }
      case "gems-http": {
        // The GEMS server has no health route; any HTTP answer below 500 means it is up.
        const response = await get(root, options);
        await response.body?.cancel();
        if (response.status >= 500) throw new Error(`answered ${response.status}`);
        return "answers";
      }
    }
  } catch (error) {
    throw new Error(redact(shorten(error instanceof Error ? error.message : String(error)), options.apiKey), { cause: error });
  }
}
