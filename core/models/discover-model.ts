import { ConfigError, describeError } from "../errors.ts";
import { rememberSecrets } from "../secrets.ts";

/**
 * The first model an OpenAI-compatible server lists at GET /models. sglang and vLLM serve one
 * model each, so asking saves the operator from copying its exact name into the config.
 */
export async function discoverModelName(
  baseUrl: string,
  apiKey: string | undefined,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string> {
  rememberSecrets(apiKey);
  const doFetch = options.fetch ?? fetch;
  const url = `${baseUrl.replace(/\/+$/, "")}/models`;
  const hint = "Set GEMS_MLLM_MODEL to the model the server serves, e.g. GEMS_MLLM_MODEL=Qwen/Qwen3-VL-8B-Instruct";
  let body: unknown;
  try {
    const response = await doFetch(url, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    // A refused key is not a missing model name; say what to fix.
    if (response.status === 401 || response.status === 403) {
      throw new ConfigError(
        `GEMS_MLLM_API_KEY: the server at ${new URL(url).host} refused the key (${response.status}) when asked for its models. Check the key (or OPENAI_API_KEY).`,
      );
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`GEMS_MLLM_MODEL: not set, and ${url} could not list models (${describeError(error)}). ${hint}`, {
      cause: error,
    });
  }
  const data = (body as { data?: Array<{ id?: unknown }> } | null)?.data;
  const id = Array.isArray(data) ? data.find((m) => typeof m?.id === "string")?.id : undefined;
  if (typeof id !== "string") throw new ConfigError(`GEMS_MLLM_MODEL: not set, and ${url} listed no model. ${hint}`);
  return id;
}
