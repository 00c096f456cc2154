/**
 * A fake Slack Web API on loopback (127.0.0.1, port 0) for the methods GEMS Bot uses, answering
 * with Slack's shapes: HTTP 200 with `{ok: true, …}` or `{ok: false, error}`, and HTTP 429 with a
 * Retry-After header when told to rate-limit. It keeps the channel history the bot builds
 * (messages, edits, file shares, reactions), the bytes of uploaded files, modals opened, and
 * what was posted to response_urls, and records every call so tests can wait for one.
 *
 * Bodies come as Slack takes them: form-encoded (what @slack/web-api sends, JSON-encoded values
 * for blocks, files and view) or JSON; tokens as `Authorization: Bearer …` or a `token` field.
 * Slightly stricter than Slack where that catches bugs: replies to an unknown thread_ts fail.
 */
import { startLoopbackServer, type FakeReply, type RecordedRequest } from "../loopback-server.ts";
import { blockProblem, viewProblem } from "./block-checks.ts";
import { boundaryOf, parseMultipart } from "./multipart.ts";

type Json = any;

export interface SlackCall {
  method: string;
  args: Record<string, Json>;
  /** HTTP status the fake answered with. */
  status: number;
  response: Json;
  /** When the call arrived (performance.now()). */
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs: string | null;
  user: string;
  botId: string | null;
  text: string;
  blocks: Json[];
  files: Array<{ id: string; title: string }>;
  reactions: string[];
  edits: number;
}

export interface FakeFile {
  id: string;
  filename: string;
  title: string | null;
  length: number;
  bytes: Buffer | null;
  isShared: boolean;
}

export interface ResponseUrlPost {
  path: string;
  body: Json;
}

export type Injection = { error: string } | { rateLimited: { retryAfterSec: number } } | { status: number };

export interface FakeSlack {
  origin: string;
  /** What the bot's SLACK_API_URL should be. */
  apiUrl: string;
  botToken: string;
  appToken: string;
  teamId: string;
  botUserId: string;
  botId: string;
  calls: SlackCall[];
  messages: FakeMessage[];
  files: Map<string, FakeFile>;
  /**
   * A file a person shared: its `files[]` entry for a message event, with a `url_private` this
   * server answers only with `Authorization: Bearer <bot token>`; otherwise it answers Slack's
   * sign-in page (200, text/html), as files.slack.com does.
   */
  shareFile(name: string, bytes: Uint8Array, mimetype?: string): Json;
  /** Reads of shared files: the path and whether the bot token came with it. */
  fileReads: Array<{ path: string; isAuthorized: boolean }>;
  views: Json[];
  responses: ResponseUrlPost[];
  /** A fresh response_url on this fake, as a slash command or block action carries. */
  responseUrl(): string;
  /** Makes apps.connections.open (Socket Mode) answer with this WebSocket URL. */
  setSocketModeUrl(url: string): void;
  /** Makes the next `times` calls of `method` fail this way ("upload" means the upload URL). */
  inject(method: string, injection: Injection, times?: number): void;
  /** Channels where the bot is not a member: posting there answers not_in_channel. */
  closeChannel(channel: string): void;
  addUser(user: { id: string; name: string; displayName?: string }): void;
  /** A person's message, as Slack would have stored it, so reactions can find it. */
  addUserMessage(message: { channel: string; ts: string; threadTs?: string; user: string; text: string }): void;
  callsOf(method: string): SlackCall[];
  /** A file a person shared in a channel: listed by files.list, downloadable from url_private with the bot token. */
  addUserFile(file: { user: string; channel: string; filename: string; bytes: Uint8Array; mimetype?: string }): string;
  /** Bot messages in a thread (file shares included), oldest first, root excluded. */
  threadReplies(channel: string, threadTs: string): FakeMessage[];
  message(channel: string, ts: string): FakeMessage | undefined;
  /** Resolves with `find()`'s first non-undefined value, re-checked after every call; fails after `timeoutMs`. */
  waitFor<T>(what: string, find: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

const ok = (payload: Json = {}): FakeReply => ({ json: { ok: true, ...payload } });
const fail = (error: string, extra: Json = {}): FakeReply => ({ json: { ok: false, error, ...extra } });

const JSON_FIELDS = new Set(["blocks", "attachments", "files", "view", "metadata"]);

export async function startFakeSlack(options: { teamId?: string } = {}): Promise<FakeSlack> {
  const teamId = options.teamId ?? "T0GEMS";
  const botToken = "xoxb-fake-0000-gems";
  const appToken = "xapp-1-fake-gems";
  const botUserId = "U0GEMSBOT";
  const botId = "B0GEMSBOT";
  const calls: SlackCall[] = [];
  const messages: FakeMessage[] = [];
  const files = new Map<string, FakeFile>();
  const views: Json[] = [];
  const responses: ResponseUrlPost[] = [];
  const injections = new Map<string, Array<{ injection: Injection; left: number }>>();
  const closedChannels = new Set<string>();
  const users = new Map<string, { id: string; name: string; displayName?: string }>();
  const waiters = new Set<() => void>();
  let tsCounter = 0;
  let idCounter = 0;
  let origin = "";
  let socketModeUrl: string | null = null;

  const nextTs = (): string => `1700000000.${String(++tsCounter).padStart(6, "0")}`;
  const nextId = (prefix: string): string => `${prefix}${String(++idCounter).padStart(8, "0")}`;
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const findMessage = (channel: string, ts: string) => messages.find((m) => m.channel === channel && m.ts === ts);
  // Files people shared in channels, for files.list; their bytes are served as shareFile's are.
  const userFiles: Array<{ entry: Json; user: string; channel: string; created: number }> = [];
  const fileExists = (id: string) => files.get(id)?.isShared === true;

  function takeInjection(method: string): Injection | null {
    const queue = injections.get(method);
    const head = queue?.[0];
    if (!queue || !head) return null;
    if (--head.left <= 0) queue.shift();
    return head.injection;
  }

  function injectedReply(injection: Injection): FakeReply {
    if ("error" in injection) return fail(injection.error);
    if ("rateLimited" in injection) {
      return { status: 429, headers: { "retry-after": String(injection.rateLimited.retryAfterSec) }, json: { ok: false, error: "ratelimited" } };
    }
    return { status: injection.status, body: "fake Slack server error" };
  }

  function readArgs(request: RecordedRequest): Record<string, Json> {
    const type = String(request.headers["content-type"] ?? "");
    let args: Record<string, Json> = {};
    if (type.includes("application/json")) args = { ...(request.body ?? {}) };
    else for (const [key, value] of new URLSearchParams(request.rawBody.toString("utf8"))) args[key] = value;
    for (const key of Object.keys(args)) {
      if (JSON_FIELDS.has(key) && typeof args[key] === "string") {
        try {
          args[key] = JSON.parse(args[key]);
        } catch {
          args[key] = { unparsable: args[key] };
        }
      }
    }
    return args;
  }

  function tokenOf(request: RecordedRequest, args: Record<string, Json>): string | null {
    const header = request.headers.authorization;
    if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice("Bearer ".length);
    return typeof args.token === "string" ? args.token : null;
  }

  function postMessage(args: Record<string, Json>, threadTs: string | null, files: FakeMessage["files"] = []): FakeMessage | FakeReply {
    const channel = String(args.channel ?? args.channel_id ?? "");
    if (channel === "") return fail("channel_not_found");
    if (closedChannels.has(channel)) return fail("not_in_channel");
    if (threadTs !== null && !findMessage(channel, threadTs)) return fail("thread_not_found");
    const text = typeof args.text === "string" ? args.text : typeof args.initial_comment === "string" ? args.initial_comment : "";
    const blocks = Array.isArray(args.blocks) ? args.blocks : [];
    if (text === "" && blocks.length === 0 && files.length === 0) return fail("no_text");
    if (text.length > 40_000) return fail("msg_too_long");
    if (args.blocks !== undefined) {
      const problem = blockProblem(args.blocks, "message", fileExists);
      if (problem) return fail("invalid_blocks", { errors: [problem] });
    }
    const message: FakeMessage = { channel, ts: nextTs(), threadTs, user: botUserId, botId, text, blocks, files, reactions: [], edits: 0 };
    messages.push(message);
    return message;
  }

  const methods: Record<string, (args: Record<string, Json>) => FakeReply> = {
    "auth.test": () =>
      ok({ url: "https://gems-test.slack.com/", team: "GEMS Test", user: "gems", team_id: teamId, user_id: botUserId, bot_id: botId, is_enterprise_install: false }),

    "chat.postMessage": (args) => {
      const posted = postMessage(args, typeof args.thread_ts === "string" && args.thread_ts !== "" ? args.thread_ts : null);
      if (!("ts" in posted)) return posted;
      return ok({
        channel: posted.channel,
        ts: posted.ts,
        message: { type: "message", user: botUserId, bot_id: botId, text: posted.text, blocks: posted.blocks, ts: posted.ts, ...(posted.threadTs ? { thread_ts: posted.threadTs } : {}) },
      });
    },

    "chat.update": (args) => {
      const message = findMessage(String(args.channel ?? ""), String(args.ts ?? ""));
      if (!message) return fail("message_not_found");
      if (message.user !== botUserId) return fail("cant_update_message");
      if (args.blocks !== undefined) {
        const problem = blockProblem(args.blocks, "message", fileExists);
        if (problem) return fail("invalid_blocks", { errors: [problem] });
        message.blocks = args.blocks;
      }
      if (typeof args.text === "string") message.text = args.text;
      message.edits++;
      return ok({ channel: message.channel, ts: message.ts, text: message.text, message: { type: "message", user: botUserId, bot_id: botId, text: message.text, blocks: message.blocks } });
    },

    "chat.postEphemeral": (args) => {
      const channel = String(args.channel ?? "");
      if (closedChannels.has(channel)) return fail("not_in_channel");
      if (typeof args.user !== "string") return fail("user_not_in_channel");
      if (typeof args.text !== "string" && !Array.isArray(args.blocks)) return fail("no_text");
      return ok({ message_ts: nextTs() });
    },

    "reactions.add": (args) => {
      const message = findMessage(String(args.channel ?? ""), String(args.timestamp ?? ""));
      if (!message) return fail("message_not_found");
      const name = String(args.name ?? "");
      if (name === "") return fail("invalid_name");
      if (message.reactions.includes(name)) return fail("already_reacted");
      message.reactions.push(name);
      return ok();
    },

    "views.open": (args) => {
      if (typeof args.trigger_id !== "string" || args.trigger_id === "") return fail("invalid_trigger_id");
      const problem = viewProblem(args.view, fileExists);
      if (problem) return fail("invalid_arguments", { response_metadata: { messages: [`[ERROR] ${problem}`] } });
      const view = { ...args.view, id: nextId("V"), team_id: teamId, app_id: "A0GEMS", bot_id: botId, hash: nextTs(), state: { values: {} } };
      views.push(view);
      return ok({ view });
    },

    "users.info": (args) => {
      const user = users.get(String(args.user ?? ""));
      if (!user) return fail("user_not_found");
      return ok({
        user: { id: user.id, team_id: teamId, name: user.name, real_name: user.displayName ?? user.name, is_bot: false, profile: { display_name: user.displayName ?? "", real_name: user.displayName ?? user.name } },
      });
    },

    "files.getUploadURLExternal": (args) => {
      const length = Number(args.length);
      if (typeof args.filename !== "string" || args.filename === "") return fail("invalid_arguments");
      if (!Number.isInteger(length) || length <= 0) return fail("invalid_arguments");
      const id = nextId("F");
      files.set(id, { id, filename: args.filename, title: null, length, bytes: null, isShared: false });
      return ok({ upload_url: `${origin}/upload/v1/${id}`, file_id: id });
    },

    "files.completeUploadExternal": (args) => {
      const listed = Array.isArray(args.files) ? (args.files as Array<{ id: string; title?: string }>) : [];
      if (listed.length === 0) return fail("invalid_arguments");
      for (const entry of listed) {
        const file = files.get(entry.id);
        if (!file || file.bytes === null) return fail("file_not_found");
      }
      const channel = typeof args.channel_id === "string" ? args.channel_id : null;
      const threadTs = typeof args.thread_ts === "string" ? args.thread_ts : null;
      if (threadTs !== null && channel === null) return fail("invalid_arguments");
      const shares = listed.map((entry) => ({ id: entry.id, title: entry.title ?? files.get(entry.id)!.filename }));
      if (channel !== null) {
        const posted = postMessage({ channel, initial_comment: args.initial_comment }, threadTs, shares);
        if (!("ts" in posted)) return posted;
      }
      for (const entry of shares) {
        const file = files.get(entry.id)!;
        file.title = entry.title;
        file.isShared = channel !== null;
      }
      return ok({
        files: shares.map((entry) => {
          const file = files.get(entry.id)!;
          return {
            id: file.id,
            name: file.filename,
            title: file.title,
            mimetype: "image/png",
            filetype: "png",
            size: file.length,
            permalink: `https://gems-test.slack.com/files/${botUserId}/${file.id}/${file.filename}`,
          };
        }),
      });
    },

    // Where a file was shared, as Slack lists it: shares.public (C… channels) or shares.private
    // (D…/G… conversations), each channel id → the messages (ts, thread_ts) that carry the file.
    "files.info": (args) => {
      const id = String(args.file ?? "");
      const file = files.get(id);
      if (!file) return fail("file_not_found");
      const shares: { public?: Record<string, Json[]>; private?: Record<string, Json[]> } = {};
      for (const message of messages.filter((m) => m.files.some((f) => f.id === id))) {
        const kind = message.channel.startsWith("C") ? "public" : "private";
        const byChannel = (shares[kind] ??= {});
        (byChannel[message.channel] ??= []).push({
          reply_users: [],
          reply_users_count: 0,
          reply_count: 0,
          ts: message.ts,
          ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
          channel_name: "gems",
          team_id: teamId,
          share_user_id: botUserId,
          source: "UNKNOWN",
        });
      }
      return ok({
        file: { id: file.id, name: file.filename, title: file.title, mimetype: "image/png", filetype: "png", size: file.length, user: botUserId, shares, channels: [], groups: [], ims: [] },
        comments: [],
        response_metadata: { next_cursor: "" },
      });
    },

    // files.list as Slack answers it: newest first, filtered by channel and user, with paging.
    "files.list": (args) => {
      const channel = typeof args.channel === "string" ? args.channel : null;
      const user = typeof args.user === "string" ? args.user : null;
      const count = Math.max(1, Math.min(1000, Number(args.count ?? 100) || 100));
      const listed = userFiles
        .filter((f) => (channel === null || f.channel === channel) && (user === null || f.user === user))
        .sort((a, b) => b.created - a.created)
        .slice(0, count)
        .map((f) => ({ ...(f.entry as Record<string, Json>), created: f.created, timestamp: f.created, user: f.user, channels: [f.channel] }));
      return ok({ files: listed, paging: { count, total: listed.length, page: 1, pages: 1 } });
    },

    "apps.connections.open": () => (socketModeUrl ? ok({ url: socketModeUrl }) : fail("internal_error")),
  };

  const shared = new Map<string, { bytes: Uint8Array; mimetype: string }>();
  const fileReads: FakeSlack["fileReads"] = [];

  function readSharedFile(request: RecordedRequest): FakeReply {
    const file = shared.get(request.path);
    const isAuthorized = request.headers.authorization === `Bearer ${botToken}`;
    fileReads.push({ path: request.path, isAuthorized });
    if (!isAuthorized) {
      return { headers: { "content-type": "text/html; charset=utf-8" }, body: "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to your workspace</body></html>" };
    }
    if (!file) return { status: 404, headers: { "content-type": "text/plain" }, body: "File not found" };
    return { headers: { "content-type": file.mimetype }, body: file.bytes };
  }

  async function route(request: RecordedRequest): Promise<FakeReply> {
    if (request.method === "GET" && request.path.startsWith("/files-pri/")) return readSharedFile(request);
    if (request.path.startsWith("/response/")) {
      responses.push({ path: request.path, body: request.body });
      calls.push({ method: "response_url", args: request.body ?? {}, status: 200, response: { ok: true }, at: performance.now() });
      return ok();
    }
    if (request.path.startsWith("/upload/v1/")) return upload(request);
    const method = request.path.replace(/^\/api\//, "");
    const args = readArgs(request);
    const reply = answer(method, request, args);
    calls.push({ method, args, status: reply.status ?? 200, response: reply.json ?? reply.body, at: performance.now() });
    return reply;
  }

  function answer(method: string, request: RecordedRequest, args: Record<string, Json>): FakeReply {
    const injected = takeInjection(method);
    if (injected) return injectedReply(injected);
    const handler = methods[method];
    if (!handler) return fail("unknown_method");
    const token = tokenOf(request, args);
    if (token === null) return fail("not_authed");
    const expected = method === "apps.connections.open" ? appToken : botToken;
    if (token !== expected) return fail("invalid_auth");
    return handler(args);
  }

  function upload(request: RecordedRequest): FakeReply {
    const id = request.path.split("/").at(-1) ?? "";
    const record = (status: number, response: string): FakeReply => {
      calls.push({ method: "upload", args: { file_id: id, bytes: request.rawBody.length }, status, response, at: performance.now() });
      return { status, body: response };
    };
    const injected = takeInjection("upload");
    if (injected) {
      const reply = injectedReply(injected);
      calls.push({ method: "upload", args: { file_id: id }, status: reply.status ?? 200, response: reply.json ?? reply.body, at: performance.now() });
      return reply;
    }
    const file = files.get(id);
    if (!file) return record(404, "no such upload");
    const boundary = boundaryOf(String(request.headers["content-type"] ?? ""));
    const bytes = boundary ? (parseMultipart(request.rawBody, boundary).find((part) => part.filename !== null || part.name !== null)?.data ?? null) : request.rawBody;
    if (!bytes || bytes.length !== file.length) return record(400, `expected ${file.length} bytes, got ${bytes?.length ?? 0}`);
    file.bytes = Buffer.from(bytes);
    return record(200, `OK - ${bytes.length}`);
  }

  const server = await startLoopbackServer(async (request) => {
    const reply = await route(request);
    wake();
    return reply;
  });
  origin = server.origin;

  const fake: FakeSlack = {
    origin,
    apiUrl: `${origin}/api/`,
    botToken,
    appToken,
    teamId,
    botUserId,
    botId,
    calls,
    messages,
    files,
    fileReads,
    shareFile(name, bytes, mimetype = "image/png") {
      const id = nextId("F");
      const path = `/files-pri/${teamId}-${id}/${name}`;
      shared.set(path, { bytes, mimetype });
      return {
        id,
        name,
        title: name,
        mimetype,
        filetype: name.split(".").at(-1) ?? "",
        size: bytes.length,
        url_private: `${origin}${path}`,
        url_private_download: `${origin}/files-pri/${teamId}-${id}/download/${name}`,
        is_external: false,
      };
    },
    views,
    responses,
    responseUrl: () => `${origin}/response/${nextId("R")}`,
    setSocketModeUrl: (url) => {
      socketModeUrl = url;
    },
    inject(method, injection, times = 1) {
      const queue = injections.get(method) ?? [];
      queue.push({ injection, left: times });
      injections.set(method, queue);
    },
    closeChannel: (channel) => void closedChannels.add(channel),
    addUser: (user) => void users.set(user.id, user),
    addUserMessage(message) {
      messages.push({ channel: message.channel, ts: message.ts, threadTs: message.threadTs ?? null, user: message.user, botId: null, text: message.text, blocks: [], files: [], reactions: [], edits: 0 });
      wake();
    },
    callsOf: (method) => calls.filter((call) => call.method === method),
    addUserFile(file) {
      const entry = fake.shareFile(file.filename, file.bytes, file.mimetype ?? "text/markdown");
      userFiles.push({ entry, user: file.user, channel: file.channel, created: Math.floor(Date.now() / 1000) + userFiles.length });
      return String((entry as { id: string }).id);
    },
    threadReplies: (channel, threadTs) => messages.filter((m) => m.channel === channel && m.threadTs === threadTs && m.user === botUserId),
    message: findMessage,
    waitFor<T>(what: string, find: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          let found: T | undefined | null | false;
          try {
            found = find();
          } catch (error) {
            finish();
            reject(error);
            return;
          }
          if (found !== undefined && found !== null && found !== false) {
            finish();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; calls so far: ${calls.map((c) => `${c.method}(${c.status})`).join(", ")}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => server.close(),
  };
  return fake;
}
