/**
 * The REST routes GEMS Bot uses, answered the way Discord answers them (status codes, JSON
 * error bodies with their codes, message objects). Paths arrive without the /api/v10 prefix.
 */
import { InteractionResponseType, MessageFlags } from "discord.js";
import type { FakeReply } from "../loopback-server.ts";
import { snowflake } from "./payloads.ts";
import type { FakeDiscordState, FakeInteraction, UploadedFile } from "./rest-state.ts";

export interface RouteMatch {
  /** Path with ids replaced, e.g. "/channels/:channel/messages": what rate-limit buckets key on. */
  route: string;
  /** The bucket's major parameter (channel, webhook, guild), as Discord scopes limits. */
  major: string;
  /** Interaction callbacks are not rate limited, and need no bot token. */
  isUnauthenticated: boolean;
  handle(body: any, files: UploadedFile[], query: URLSearchParams): FakeReply;
}

export interface RouteHooks {
  threadCreated(threadPayload: unknown): void;
  gatewayUrl(): string;
}

const json = (status: number, value: unknown): FakeReply => ({ status, json: value });
const noContent = (): FakeReply => ({ status: 204 });
const discordError = (status: number, code: number, message: string): FakeReply => json(status, { message, code });

const unknownChannel = () => discordError(404, 10003, "Unknown Channel");
const unknownMessage = () => discordError(404, 10008, "Unknown Message");
const unknownWebhook = () => discordError(404, 10015, "Unknown Webhook");

export function matchRoute(state: FakeDiscordState, hooks: RouteHooks, method: string, path: string): RouteMatch | null {
  const parts = path.split("/").filter(Boolean);
  const is = (...pattern: string[]) => pattern.length === parts.length && pattern.every((p, i) => p.startsWith(":") || p === parts[i]);
  const at = (i: number) => decodeURIComponent(parts[i] as string);
  const route = (template: string, major: string, handle: RouteMatch["handle"], isUnauthenticated = false): RouteMatch => ({ route: template, major, handle, isUnauthenticated });

  if (method === "GET" && is("gateway", "bot")) {
    return route("/gateway/bot", "global", () =>
      json(200, { url: hooks.gatewayUrl(), shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 } }),
    );
  }
  if (method === "PUT" && (is("applications", ":app", "commands") || is("applications", ":app", "guilds", ":guild", "commands"))) {
    return route(parts.length === 3 ? "/applications/:app/commands" : "/applications/:app/guilds/:guild/commands", at(1), (body) => {
      state.commands.splice(0, state.commands.length, ...(body as any[]).map((c) => ({ ...c, id: snowflake(), application_id: at(1), version: snowflake() })));
      return json(200, state.commands);
    });
  }
  if (method === "POST" && is("interactions", ":id", ":token", "callback")) {
    return route("/interactions/:id/:token/callback", at(1), (body, _files, query) => answerInteraction(state, at(1), at(2), body, query), true);
  }
  if (is("webhooks", ":app", ":token", "messages", ":message")) {
    return route(`/webhooks/:app/:token/messages/:message`, `${at(1)}/${at(2)}`, (body) => webhookMessage(state, method, at(2), at(4), body), true);
  }
  if (method === "POST" && is("webhooks", ":app", ":token")) {
    return route("/webhooks/:app/:token", `${at(1)}/${at(2)}`, (body, files) => {
      const interaction = state.interactionByToken(at(2));
      if (!interaction) return unknownWebhook();
      const message = state.createMessage(interaction.payload.channel_id, state.bot, body, files, state.applicationId);
      interaction.followups.push(message);
      return json(200, state.messagePayload(message));
    }, true);
  }
  if (method === "POST" && is("channels", ":channel", "messages")) {
    return route("/channels/:channel/messages", at(1), (body, files) => {
      if (!state.channels.has(at(1))) return unknownChannel();
      if (body?.enforce_nonce && body.nonce !== undefined) {
        const earlier = state.nonces.get(`${state.bot.id}:${body.nonce}`);
        const message = earlier ? state.messages.get(earlier) : undefined;
        if (message) return json(200, state.messagePayload(message));
      }
      const message = state.createMessage(at(1), state.bot, body, files);
      if (body?.enforce_nonce && body.nonce !== undefined) state.nonces.set(`${state.bot.id}:${body.nonce}`, message.id);
      return json(200, state.messagePayload(message));
    });
  }
  if (is("channels", ":channel", "messages", ":message") && (method === "PATCH" || method === "GET")) {
    return route("/channels/:channel/messages/:message", at(1), (body, files) => {
      const message = state.messages.get(at(3));
      if (!message || message.channelId !== at(1)) return unknownMessage();
      if (method === "PATCH") {
        if (message.author.id !== state.bot.id) return discordError(403, 50005, "Cannot edit a message authored by another user");
        state.editMessage(message, body, files);
      }
      return json(200, state.messagePayload(message));
    });
  }
  if (method === "POST" && is("channels", ":channel", "messages", ":message", "threads")) {
    return route("/channels/:channel/messages/:message/threads", at(1), (body) => {
      const parent = state.channels.get(at(1));
      if (!parent) return unknownChannel();
      const message = state.messages.get(at(3));
      if (!message || message.channelId !== parent.id) return unknownMessage();
      if (state.channels.has(message.id)) return discordError(400, 160004, "A thread has already been created for this message");
      const name = String(body?.name ?? "");
      if (name.length === 0 || name.length > 100) return discordError(400, 50035, "Invalid Form Body: name must be 1-100 characters");
      const thread = state.addThread(parent.id, message.id, name);
      const payload = state.channelPayload(thread);
      hooks.threadCreated({ ...payload, newly_created: true, member: { id: thread.id, user_id: state.bot.id, join_timestamp: new Date().toISOString(), flags: 0 } });
      return json(201, payload);
    });
  }
  if (method === "PUT" && is("channels", ":channel", "messages", ":message", "reactions", ":emoji", "@me")) {
    return route("/channels/:channel/messages/:message/reactions/:emoji/@me", at(1), () => {
      const message = state.messages.get(at(3));
      if (!message || message.channelId !== at(1)) return unknownMessage();
      const emoji = at(5);
      if (!message.reactions.includes(emoji)) message.reactions.push(emoji);
      return noContent();
    });
  }
  if (method === "POST" && is("users", "@me", "channels")) {
    return route("/users/@me/channels", "global", (body) => {
      const recipient = body?.recipient_id;
      if (typeof recipient !== "string" || !/^\d{17,20}$/.test(recipient)) return discordError(400, 50035, "Invalid Form Body: recipient_id is not snowflake.");
      return json(200, state.channelPayload(state.openDm(recipient)));
    });
  }
  if (method === "GET" && is("channels", ":channel")) {
    return route("/channels/:channel", at(1), () => {
      const channel = state.channels.get(at(1));
      return channel ? json(200, state.channelPayload(channel)) : unknownChannel();
    });
  }
  return null;
}

function answerInteraction(state: FakeDiscordState, id: string, token: string, body: any, query: URLSearchParams): FakeReply {
  const interaction = state.interactions.get(id);
  if (!interaction || interaction.token !== token) return discordError(404, 10062, "Unknown interaction");
  if (interaction.callbacks.length > 0) return discordError(400, 40060, "Interaction has already been acknowledged.");
  interaction.callbacks.push({ type: Number(body?.type), data: body?.data ?? {} });
  interaction.answeredAt = Date.now();
  const type = Number(body?.type);
  if (type === InteractionResponseType.ChannelMessageWithSource || type === InteractionResponseType.DeferredChannelMessageWithSource) {
    const isDeferred = type === InteractionResponseType.DeferredChannelMessageWithSource;
    const data = isDeferred ? { content: "", flags: (body?.data?.flags ?? 0) | MessageFlags.Loading } : (body?.data ?? {});
    interaction.original = state.createMessage(interaction.payload.channel_id, state.bot, data, [], state.applicationId);
  }
  if (query.get("with_response") === "true") {
    return json(200, {
      interaction: { id, type: interaction.payload.type, activity_instance_id: null, response_message_id: interaction.original?.id ?? null, response_message_loading: false, response_message_ephemeral: false },
      resource: interaction.original ? { type, message: state.messagePayload(interaction.original) } : { type },
    });
  }
  return noContent();
}

function webhookMessage(state: FakeDiscordState, method: string, token: string, messageId: string, body: any): FakeReply {
  const interaction: FakeInteraction | undefined = state.interactionByToken(token);
  if (!interaction) return unknownWebhook();
  const message = messageId === "@original" ? interaction.original : interaction.followups.find((m) => m.id === messageId);
  if (!message) return unknownMessage();
  if (method === "GET") return json(200, state.messagePayload(message));
  if (method === "DELETE") {
    state.messages.delete(message.id);
    return noContent();
  }
  if (method !== "PATCH") return discordError(405, 0, "405: Method Not Allowed");
  // The first edit of a deferred reply replaces the "thinking…" placeholder.
  if (message.flags & MessageFlags.Loading) message.flags &= ~MessageFlags.Loading;
  // An ephemeral reply stays ephemeral whatever an edit says.
  const ephemeral = message.flags & MessageFlags.Ephemeral;
  state.editMessage(message, body);
  message.flags |= ephemeral;
  if (messageId === "@original") interaction.originalEdits++;
  return json(200, state.messagePayload(message));
}
