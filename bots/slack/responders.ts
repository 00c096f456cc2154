/**
 * How to tell one person something only they see, per request. A slash command answers through
 * its response_url (valid 30 minutes, works even where the bot cannot post); a modal has none,
 * so it falls back to chat.postEphemeral in the channel it was opened from.
 */
import type { RespondFn, webApi } from "@slack/bolt";

export type Notify = (text: string) => Promise<void>;

export function notifyViaRespond(respond: RespondFn): Notify {
  return async (text) => {
    await respond({ response_type: "ephemeral", replace_original: false, text });
  };
}

export function notifyViaEphemeral(client: webApi.WebClient, channel: string, user: string, threadTs?: string): Notify {
  return async (text) => {
    await client.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
  };
}

const RESPONSE_URL_LIFETIME_MS = 30 * 60 * 1000;

/**
 * Responders of submitted jobs whose thread is not posted yet, so that a job whose channel turns
 * out to be closed to the bot can still be explained to its requester. In memory only: after a
 * restart the response_url would be close to expiry anyway.
 */
export class PendingResponders {
  readonly #byRequest = new Map<string, { notify: Notify; at: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  set(requestId: string, notify: Notify): void {
    const now = this.#now();
    for (const [id, entry] of this.#byRequest) if (now - entry.at > RESPONSE_URL_LIFETIME_MS) this.#byRequest.delete(id);
    this.#byRequest.set(requestId, { notify, at: now });
  }

  take(requestId: string): Notify | undefined {
    const entry = this.#byRequest.get(requestId);
    this.#byRequest.delete(requestId);
    return entry?.notify;
  }
}
