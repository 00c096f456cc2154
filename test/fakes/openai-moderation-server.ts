/**
 * OpenAI's `POST /v1/moderations` on loopback: checks the bearer key and the body as the real
 * endpoint does, and answers `{id, model, results:[{flagged, categories, category_scores,
 * category_applied_input_types}]}`. Text containing one of `flaggedWords` is flagged as
 * "violence"; an image whose bytes contain the marker "FLAGME" is flagged as "sexual".
 * Errors: 401 invalid_api_key, 400 invalid_request_error, and whatever `failWith` scripts.
 */
import { startLoopbackServer, type FakeReply, type LoopbackServer } from "./loopback-server.ts";

export interface FakeModerationServer extends LoopbackServer {
  /** The next requests get this reply instead (e.g. a 500, a 429, a delay). */
  failWith: FakeReply | null;
}

const CATEGORIES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/intent",
  "self-harm/instructions",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
];

const error = (status: number, message: string, type: string, code: string | null, param: string | null = null): FakeReply => ({
  status,
  json: { error: { message, type, param, code } },
});

export async function startFakeModerationServer(options: { apiKey: string; flaggedWords: string[] }): Promise<FakeModerationServer> {
  const state: { failWith: FakeReply | null } = { failWith: null };
  const server = await startLoopbackServer((request) => {
    if (request.method !== "POST" || request.path !== "/v1/moderations") return error(404, "Invalid URL", "invalid_request_error", null);
    if (request.headers.authorization !== `Bearer ${options.apiKey}`) {
      // The real endpoint echoes part of the key it was given; the client must not repeat it.
      const given = String(request.headers.authorization ?? "").replace(/^Bearer /, "");
      return error(401, `Incorrect API key provided: ${given}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", "invalid_api_key");
    }
    if (state.failWith) return state.failWith;
    const body = request.body;
    if (!body || body.input === undefined) return error(400, "you must provide an input parameter", "invalid_request_error", null, "input");
    const model = typeof body.model === "string" ? body.model : "omni-moderation-latest";
    const parts: Array<{ type: string; text?: string; image_url?: { url: string } }> = Array.isArray(body.input)
      ? body.input.map((p: unknown) => (typeof p === "string" ? { type: "text", text: p } : (p as { type: string })))
      : [{ type: "text", text: String(body.input) }];
    const hasImage = parts.some((p) => p.type === "image_url");
    if (hasImage && !model.startsWith("omni-")) return error(400, `Model ${model} does not support image inputs.`, "invalid_request_error", null, "input");
    const flags = new Set<string>();
    for (const part of parts) {
      if (part.type === "text" && options.flaggedWords.some((w) => (part.text ?? "").toLowerCase().includes(w))) flags.add("violence");
      if (part.type === "image_url") {
        const url = part.image_url?.url ?? "";
        const match = /^data:image\/[a-z]+;base64,(.*)$/.exec(url);
        if (!match) return error(400, "Invalid image URL.", "invalid_request_error", null, "input");
        if (Buffer.from(match[1] ?? "", "base64").includes("FLAGME")) flags.add("sexual");
      }
    }
    const categories = Object.fromEntries(CATEGORIES.map((c) => [c, flags.has(c)]));
    const scores = Object.fromEntries(CATEGORIES.map((c) => [c, flags.has(c) ? 0.93 : 0.0001]));
    const applied = Object.fromEntries(CATEGORIES.map((c) => [c, c.startsWith("sexual") || c.startsWith("violence") || c.startsWith("self-harm") ? (hasImage ? ["text", "image"] : ["text"]) : ["text"]]));
    return {
      json: {
        id: `modr-${request.rawBody.length}`,
        model: "omni-moderation-2024-09-26",
        results: [{ flagged: flags.size > 0, categories, category_scores: scores, category_applied_input_types: applied }],
      },
    };
  });
  return {
    origin: server.origin,
    requests: server.requests,
    close: () => server.close(),
    get failWith() {
      return state.failWith;
    },
    set failWith(reply: FakeReply | null) {
      state.failWith = reply;
    },
  };
}
