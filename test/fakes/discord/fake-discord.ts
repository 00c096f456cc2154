/**
 * A fake Discord for end-to-end tests of the real discord.js client: a loopback REST server
 * (see rest-routes.ts) that records every call, with optional rate limits and injected
 * failures, and a WebSocket gateway (gateway.ts) through which the test acts as people:
 * slash commands, autocomplete, button presses and messages in threads.
 *
 * Point the bot at `apiUrl` (DISCORD_API_URL); discord.js finds the gateway through
 * GET /gateway/bot there. Tests wait for recorded calls with waitFor, never by sleeping.
 */
import { EventEmitter } from "node:events";
import { createHash } from "node:crypto";
import { ChannelType, GatewayIntentBits, InteractionResponseType, MessageFlags, type APIUser } from "discord.js";
import { startLoopbackServer, type FakeReply, type LoopbackServer, type RecordedRequest } from "../loopback-server.ts";
import { startFakeGateway, type FakeGateway } from "./gateway.ts";
import { boundaryOf, parseMultipart } from "./multipart.ts";
import {
  autocompletePayload,
  buttonPayload,
  chatInputPayload,
  incomingMessagePayload,
  memberPayload,
  snowflake,
  userPayload,
  type InteractionContext,
  type OptionValue,
} from "./payloads.ts";
import { FakeRateLimiter, type RateLimitRule } from "./rate-limiter.ts";
import { matchRoute } from "./rest-routes.ts";
import { FakeDiscordState, type FakeChannel, type FakeInteraction, type FakeMessage, type UploadedFile } from "./rest-state.ts";

/** An uploaded file as Discord describes it in message and interaction payloads. */
export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  content_type: string;
  url: string;
  proxy_url: string;
}

export type { FakeChannel, FakeInteraction, FakeMessage, UploadedFile };

export interface FakeDiscordOptions {
  token?: string;
  /** Per-bucket limits like Discord's; off unless given. */
  rateLimit?: RateLimitRule;
  heartbeatIntervalMs?: number;
}

export interface RecordedCall {
  method: string;
  /** Without /api/v10, e.g. "/channels/123/messages". */
  path: string;
  /** With ids replaced: "/channels/:channel/messages". Unknown routes keep their path. */
  route: string;
  query: URLSearchParams;
  /** JSON body, or the payload_json part of a multipart body. */
  body: any;
  files: UploadedFile[];
  status: number;
  /** When the request arrived (Date.now()). */
  at: number;
  isMultipart: boolean;
}

export interface InjectedFailure {
  method?: string;
  /** Matched against the path without /api/v10. */
  path: RegExp;
  /** 403 answers as Discord does without a permission (code 50013). */
  status: 403 | 429 | 500 | 502 | 503;
  times: number;
  /** For 429: seconds, as in Discord's body and Retry-After header. */
  retryAfter?: number;
}

export interface FakeAnswer {
  content: string;
  isEphemeral: boolean;
  embeds: any[];
}

export interface FakeDiscord {
  apiUrl: string;
  token: string;
  applicationId: string;
  guildId: string;
  /** The text channel commands are run in unless a test says otherwise. */
  channel: FakeChannel;
  bot: APIUser;
  state: FakeDiscordState;
  gateway: FakeGateway;
  calls: RecordedCall[];
  /** 429s the rate limiter (not an injection) answered. */
  rateLimited: number;
  user(username: string, displayName?: string): APIUser;
  inject(failure: InjectedFailure): void;
  /** Resolves with `check()`'s first truthy value, re-checked after every call and gateway event. */
  waitFor<T>(check: () => T | null | undefined | false, what: string, timeoutMs?: number): Promise<T>;
  /** Resolves when discord.js has identified and the guild was sent. */
  connected(): Promise<void>;
  command(user: APIUser, subcommand: string, options?: Record<string, OptionValue>, channelId?: string, attachments?: Record<string, FakeAttachment>): FakeInteraction;
  /**
   * A file on the fake CDN, as a person's upload: its payload carries a signed URL (`ex`, `is`,
   * `hm`) served at this server's /attachments/…; `expired` signs it with an expiry in the past,
   * which the CDN answers as Discord's does.
   */
  attachment(filename: string, bytes: Uint8Array, options?: { contentType?: string; expired?: boolean }): FakeAttachment;
  /** CDN downloads, in order: the path and the status answered. */
  downloads: Array<{ path: string; status: number }>;
  autocomplete(user: APIUser, options: Record<string, OptionValue>, focused: string): FakeInteraction;
  press(user: APIUser, message: FakeMessage, customId: string): FakeInteraction;
  /**
   * A person adds a reaction to a message, as MESSAGE_REACTION_ADD (Discord's payload: user_id,
   * channel_id, message_id, guild_id, member, emoji {id, name}, burst, type…); only bots that
   * identified with GUILD_MESSAGE_REACTIONS receive it.
   */
  react(user: APIUser, message: FakeMessage, emoji: string): void;
  /** A person removes their reaction, as MESSAGE_REACTION_REMOVE (no member in this one). */
  unreact(user: APIUser, message: FakeMessage, emoji: string): void;
  /** A person's message in a channel or thread, as MESSAGE_CREATE. */
  say(user: APIUser, channelId: string, content: string, attachments?: FakeAttachment[]): FakeMessage;
  /** The interaction's answer once given (a reply, or the first edit of a deferred reply). */
  answer(interaction: FakeInteraction, timeoutMs?: number): Promise<FakeAnswer>;
  messagesIn(channelId: string): FakeMessage[];
  close(): Promise<void>;
}

const API_PREFIX = /^(?:\/api)?\/v\d+/;

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const token = options.token ?? "fake-bot-token.do-not-log";
  const applicationId = snowflake();
  const guildId = snowflake();
  const bot = userPayload(applicationId, "GEMS Bot", null, true);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const changed = () => changes.emit("change");
  const calls: RecordedCall[] = [];
  const injected: InjectedFailure[] = [];
  const limiter = options.rateLimit ? new FakeRateLimiter(options.rateLimit) : null;
  let server: LoopbackServer | undefined;
  const state = new FakeDiscordState(guildId, bot, applicationId, () => server?.origin ?? "");
  const channel = state.addTextChannel("gems");
  let rateLimited = 0;

  const gateway = await startFakeGateway({
    token,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 45_000,
    ready: () => ({
      v: 10,
      user: bot,
      guilds: [{ id: guildId, unavailable: true }],
      shard: [0, 1],
      application: { id: applicationId, flags: 0 },
      user_settings: {},
      relationships: [],
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
    }),
    afterReady: () => [{ t: "GUILD_CREATE", d: guildPayload() }],
    onChange: changed,
  });

  function guildPayload() {
    const all = [...state.channels.values()];
    return {
      id: guildId,
      name: "GEMS test server",
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: snowflake(),
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [{ id: guildId, name: "@everyone", color: 0, hoist: false, icon: null, unicode_emoji: null, position: 0, permissions: "2248473465835073", managed: false, mentionable: false, flags: 0 }],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      premium_tier: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: "en-US",
      nsfw_level: 0,
      joined_at: "2024-01-01T00:00:00.000Z",
      large: false,
      unavailable: false,
      member_count: 1,
      voice_states: [],
      members: [memberPayload(bot)],
      channels: all.filter((c) => c.kind === "text").map((c) => state.channelPayload(c)),
      // Active threads, as Discord sends them after a reconnect, so caches hold job threads.
      threads: all.filter((c) => c.kind === "thread").map((c) => state.channelPayload(c)),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  const cdn = new Map<string, { bytes: Uint8Array; contentType: string; ex: number; hm: string }>();
  const downloads: FakeDiscord["downloads"] = [];
  const sign = (path: string, ex: number) => createHash("sha256").update(`${token}:${path}:${ex}`).digest("hex");

  /**
   * The CDN: a signed attachment URL answers the file until its `ex` (hex Unix seconds) passes;
   * an expired or unsigned one answers 404 "This content is no longer available.", as
   * cdn.discordapp.com does since signed URLs (February 2024).
   */
  function serveAttachment(request: RecordedRequest): FakeReply {
    const file = cdn.get(request.path);
    const ex = Number.parseInt(request.query.get("ex") ?? "", 16);
    const isValid = file && request.query.get("hm") === file.hm && ex === file.ex && ex * 1000 > Date.now();
    const reply: FakeReply = isValid
      ? { headers: { "content-type": file.contentType }, body: file.bytes }
      : { status: 404, headers: { "content-type": "text/plain" }, body: "This content is no longer available." };
    downloads.push({ path: request.path, status: reply.status ?? 200 });
    return reply;
  }

  function route(request: RecordedRequest): FakeReply {
    if (request.method === "GET" && request.path.startsWith("/attachments/")) return serveAttachment(request);
    const path = request.path.replace(API_PREFIX, "");
    const isMultipart = (request.headers["content-type"] ?? "").startsWith("multipart/form-data");
    let body = request.body;
    let files: UploadedFile[] = [];
    if (isMultipart) {
      const parts = parseMultipart(request.rawBody, boundaryOf(request.headers["content-type"]) ?? "");
      const payload = parts.find((p) => p.name === "payload_json");
      body = payload ? JSON.parse(payload.data.toString("utf8")) : {};
      files = parts
        .filter((p) => p.filename !== null)
        .map((p) => ({ field: p.name, filename: p.filename as string, contentType: p.contentType, bytes: p.data }));
    }
    const match = matchRoute(state, { gatewayUrl: () => gateway.url, threadCreated: (thread) => gateway.dispatch("THREAD_CREATE", thread) }, request.method, path);
    const call: RecordedCall = {
      method: request.method,
      path,
      route: match?.route ?? path,
      query: request.query,
      body,
      files,
      status: 0,
      at: Date.now(),
      isMultipart,
    };
    calls.push(call);
    const reply = answer();
    call.status = reply.status ?? 200;
    // After the reply is built, so a waiter sees the state the call produced.
    setImmediate(changed);
    return reply;

    function answer(): FakeReply {
      if (!match) return { status: 404, json: { message: "404: Not Found", code: 0 } };
      if (!match.isUnauthenticated && request.headers.authorization !== `Bot ${token}`) {
        return { status: 401, json: { message: "401: Unauthorized", code: 0 } };
      }
      const failure = injected.find((f) => f.times > 0 && (!f.method || f.method === request.method) && f.path.test(path));
      if (failure) {
        failure.times--;
        if (failure.status === 429) {
          const retryAfter = failure.retryAfter ?? 0.1;
          return {
            status: 429,
            headers: { "retry-after": String(retryAfter), "x-ratelimit-scope": "user", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": String(retryAfter) },
            json: { message: "You are being rate limited.", retry_after: retryAfter, global: false },
          };
        }
        if (failure.status === 403) return { status: 403, json: { message: "Missing Permissions", code: 50013 } };
        return { status: failure.status, json: { message: `${failure.status}: Internal Server Error`, code: 0 } };
      }
      let headers: Record<string, string> = {};
      if (limiter && !match.isUnauthenticated) {
        const verdict = limiter.take(`${request.method} ${match.route}`, match.major);
        headers = verdict.headers;
        if (!verdict.isAllowed) {
          rateLimited++;
          return { status: 429, headers, json: { message: "You are being rate limited.", retry_after: verdict.retryAfter, global: false } };
        }
      }
      const reply = match.handle(body, files, request.query);
      return { ...reply, headers: { ...headers, ...reply.headers } };
    }
  }

  server = await startLoopbackServer(route);

  function context(user: APIUser, channelId: string): InteractionContext {
    const target = state.channels.get(channelId);
    if (!target) throw new Error(`the fake has no channel ${channelId}`);
    return {
      applicationId,
      guildId,
      channel: target.kind === "thread"
        ? { id: target.id, type: ChannelType.PublicThread, parent_id: target.parentId, name: target.name }
        : { id: target.id, type: ChannelType.GuildText, name: target.name },
      user,
    };
  }

  function interact(payload: any): FakeInteraction {
    const interaction: FakeInteraction = {
      id: payload.id,
      token: payload.token,
      payload,
      dispatchedAt: Date.now(),
      answeredAt: null,
      callbacks: [],
      original: null,
      originalEdits: 0,
      followups: [],
    };
    state.interactions.set(interaction.id, interaction);
    gateway.dispatch("INTERACTION_CREATE", payload);
    return interaction;
  }

  const commandId = () => (state.commands.find((c) => c.name === "gems")?.id as string | undefined) ?? snowflake();

  const fake: FakeDiscord = {
    apiUrl: `${server.origin}/api`,
    token,
    applicationId,
    guildId,
    channel,
    bot,
    state,
    gateway,
    calls,
    get rateLimited() {
      return rateLimited;
    },
    user: (username, displayName) => userPayload(snowflake(), username, displayName ?? null),
    inject: (failure) => void injected.push({ ...failure }),

    waitFor(check, what, timeoutMs = 15_000) {
      const now = check();
      if (now) return Promise.resolve(now);
      return new Promise((resolve, reject) => {
        const listener = () => {
          const value = check();
          if (!value) return;
          cleanup();
          resolve(value);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake Discord: timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          changes.off("change", listener);
        };
        changes.on("change", listener);
      });
    },

    connected: () =>
      fake.waitFor(() => gateway.sessions.some((s) => s.isReady) && calls.some((c) => c.route === "/gateway/bot"), "the bot to connect").then(() => undefined),

    command: (user, subcommand, options = {}, channelId = channel.id, attachments = {}) =>
      interact(chatInputPayload(context(user, channelId), commandId(), subcommand, options, attachments)),
    downloads,
    attachment(filename, bytes, options = {}) {
      const id = snowflake();
      const path = `/attachments/${channel.id}/${id}/${filename}`;
      const issued = Math.floor(Date.now() / 1000) - (options.expired ? 30 * 86400 : 0);
      const ex = issued + 14 * 86400 - (options.expired ? 16 * 86400 : 0);
      const hm = sign(path, ex);
      const contentType = options.contentType ?? "image/png";
      cdn.set(path, { bytes, contentType, ex, hm });
      const url = `${server!.origin}${path}?ex=${ex.toString(16)}&is=${issued.toString(16)}&hm=${hm}&`;
      return { id, filename, size: bytes.length, content_type: contentType, url, proxy_url: url };
    },
    autocomplete: (user, options, focused) => interact(autocompletePayload(context(user, channel.id), commandId(), "create", options, focused)),
    press: (user, message, customId) => interact(buttonPayload(context(user, message.channelId), state.messagePayload(message), customId)),

    react(user, message, emoji) {
      gateway.dispatch(
        "MESSAGE_REACTION_ADD",
        {
          user_id: user.id,
          channel_id: message.channelId,
          message_id: message.id,
          guild_id: guildId,
          member: memberPayload(user, null),
          message_author_id: message.author.id,
          emoji: { id: null, name: emoji },
          burst: false,
          burst_colors: [],
          type: 0,
        },
        GatewayIntentBits.GuildMessageReactions,
      );
    },

    unreact(user, message, emoji) {
      gateway.dispatch(
        "MESSAGE_REACTION_REMOVE",
        { user_id: user.id, channel_id: message.channelId, message_id: message.id, guild_id: guildId, emoji: { id: null, name: emoji }, burst: false, type: 0 },
        GatewayIntentBits.GuildMessageReactions,
      );
    },

    say(user, channelId, content, attachments = []) {
      const message = state.createMessage(channelId, user, { content }, []);
      gateway.dispatch("MESSAGE_CREATE", incomingMessagePayload({ id: message.id, channelId, guildId, author: user, content, attachments }));
      return message;
    },

    answer(interaction, timeoutMs) {
      return fake.waitFor(
        () => {
          const [first] = interaction.callbacks;
          if (!first || !interaction.original) return null;
          const isDeferred = first.type === InteractionResponseType.DeferredChannelMessageWithSource;
          if (isDeferred && interaction.originalEdits === 0) return null;
          const original = interaction.original;
          return { content: original.content, isEphemeral: (original.flags & MessageFlags.Ephemeral) !== 0, embeds: original.embeds };
        },
        `an answer to interaction ${interaction.id}`,
        timeoutMs,
      );
    },

    messagesIn: (channelId) => state.messagesIn(channelId),

    async close() {
      await gateway.close();
      await server?.close();
    },
  };
  return fake;
}
