/**
 * Delivers requests to a Bolt app's HTTP receiver exactly as Slack does: the raw body signed
 * with the app's signing secret, X-Slack-Signature = "v0=" + hex HMAC-SHA256 over
 * "v0:<timestamp>:<raw body>", X-Slack-Request-Timestamp in seconds. Slash commands and
 * interactivity come form-encoded (interactivity as one `payload` field of JSON); Events API
 * callbacks come as JSON.
 */
import { createHmac } from "node:crypto";

export interface Delivery {
  status: number;
  /** The response body: Bolt's ack, e.g. a modal's `{"response_action":"errors",…}`. */
  text: string;
  elapsedMs: number;
}

export interface SendOptions {
  /** Signs with this secret instead of the right one. */
  secret?: string;
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Sends this signature header as is. */
  signature?: string;
}

export interface SlackSender {
  sign(rawBody: string, timestamp: number, secret?: string): string;
  send(rawBody: string, contentType: string, options?: SendOptions): Promise<Delivery>;
  /** A slash command's form fields (see payloads.ts). */
  command(fields: Record<string, string>, options?: SendOptions): Promise<Delivery>;
  /** block_actions, view_submission and the other interactivity payloads. */
  interaction(payload: object, options?: SendOptions): Promise<Delivery>;
  /** An Events API event_callback envelope. */
  event(envelope: object, options?: SendOptions): Promise<Delivery>;
}

export function createSlackSender(url: string, signingSecret: string): SlackSender {
  const sign = (rawBody: string, timestamp: number, secret = signingSecret): string =>
    `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;

  async function send(rawBody: string, contentType: string, options: SendOptions = {}): Promise<Delivery> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const started = performance.now();
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": contentType,
        "x-slack-request-timestamp": String(timestamp),
        "x-slack-signature": options.signature ?? sign(rawBody, timestamp, options.secret),
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
      },
      body: rawBody,
    });
    const text = await response.text();
    return { status: response.status, text, elapsedMs: performance.now() - started };
  }

  return {
    sign,
    send,
    command: (fields, options) => send(new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded", options),
    interaction: (payload, options) =>
      send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), "application/x-www-form-urlencoded", options),
    event: (envelope, options) => send(JSON.stringify(envelope), "application/json", options),
  };
}
