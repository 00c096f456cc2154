/**
 * What the fake Discord remembers between REST calls: channels and threads, messages with
 * their edits, files and reactions, registered commands, and each interaction's answers.
 */
import { MessageFlags, type APIUser } from "discord.js";
import { messagePayload, snowflake, textChannelPayload, threadPayload } from "./payloads.ts";

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string | null;
  bytes: Buffer;
}

export interface FakeMessage {
  id: string;
  channelId: string;
  author: APIUser;
  content: string;
  embeds: any[];
  components: any[];
  attachments: Array<{ id: string; filename: string; size: number; content_type: string | null; url: string; proxy_url: string }>;
  files: UploadedFile[];
  flags: number;
  nonce?: string | number;
  messageReference?: any;
  /** Emoji the bot reacted with, in order. */
  reactions: string[];
  edits: number;
  webhookId?: string;
}

export interface FakeChannel {
  id: string;
  kind: "text" | "thread" | "dm";
  name: string;
  parentId: string | null;
  /** The message a thread was started from (its id is the thread's id). */
  starterMessageId: string | null;
}

export interface FakeInteraction {
  id: string;
  token: string;
  payload: any;
  /** When it was dispatched, and when its first callback arrived (Date.now()). */
  dispatchedAt: number;
  answeredAt: number | null;
  callbacks: Array<{ type: number; data: any }>;
  original: FakeMessage | null;
  /** PATCHes of @original (after a deferred callback, the answer is the first of these). */
  originalEdits: number;
  followups: FakeMessage[];
}

export class FakeDiscordState {
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly commands: any[] = [];
  /** "<author>:<nonce>" → message id, for posts sent with enforce_nonce. */
  readonly nonces = new Map<string, string>();

  constructor(
    readonly guildId: string,
    readonly bot: APIUser,
    readonly applicationId: string,
    readonly origin: () => string,
  ) {}

  /** Opens (or returns) the bot's direct-message channel with a person, as POST /users/@me/channels does. */
  openDm(recipientId: string): FakeChannel {
    const existing = [...this.channels.values()].find((c) => c.kind === "dm" && c.name === recipientId);
    if (existing) return existing;
    const channel: FakeChannel = { id: snowflake(), kind: "dm", name: recipientId, parentId: null, starterMessageId: null };
    this.channels.set(channel.id, channel);
    return channel;
  }

  addTextChannel(name: string): FakeChannel {
    const channel: FakeChannel = { id: snowflake(), kind: "text", name, parentId: null, starterMessageId: null };
    this.channels.set(channel.id, channel);
    return channel;
  }

  addThread(parentId: string, starterMessageId: string, name: string): FakeChannel {
    const thread: FakeChannel = { id: starterMessageId, kind: "thread", name, parentId, starterMessageId };
    this.channels.set(thread.id, thread);
    return thread;
  }

  channelPayload(channel: FakeChannel) {
    // A DM channel (type 1): no guild, its recipient listed.
    if (channel.kind === "dm") return { id: channel.id, type: 1, last_message_id: null, flags: 0, recipients: [{ id: channel.name, username: "person", discriminator: "0", global_name: null, avatar: null }] };
    return channel.kind === "thread"
      ? threadPayload(channel.id, this.guildId, channel.parentId as string, this.bot.id, channel.name)
      : textChannelPayload(channel.id, this.guildId, channel.name);
  }

  createMessage(channelId: string, author: APIUser, body: any, files: UploadedFile[], webhookId?: string): FakeMessage {
    const id = snowflake();
    const message: FakeMessage = {
      id,
      channelId,
      author,
      content: String(body?.content ?? ""),
      embeds: body?.embeds ?? [],
      components: body?.components ?? [],
      attachments: [],
      files,
      flags: Number(body?.flags ?? 0),
      reactions: [],
      edits: 0,
      ...(body?.nonce !== undefined ? { nonce: body.nonce } : {}),
      ...(body?.message_reference ? { messageReference: body.message_reference } : {}),
      ...(webhookId ? { webhookId } : {}),
    };
    message.attachments = files.map((file) => this.attachmentOf(channelId, id, file));
    this.messages.set(id, message);
    return message;
  }

  /** Uploaded attachments get snowflake ids, as on Discord (an edit keeps one by its id). */
  private attachmentOf(channelId: string, messageId: string, file: UploadedFile): FakeMessage["attachments"][number] {
    const url = `${this.origin()}/attachments/${channelId}/${messageId}/${file.filename}`;
    return { id: snowflake(), filename: file.filename, size: file.bytes.length, content_type: file.contentType, url, proxy_url: url };
  }

  /**
   * PATCH semantics: given fields replace, missing ones stay. With API v10 an `attachments`
   * array lists every attachment the message keeps: existing ones by their id, new uploads by
   * the index of their `files[n]` part; any other existing attachment is removed. Without it,
   * attachments stay as they are.
   */
  editMessage(message: FakeMessage, body: any, files: UploadedFile[] = []): void {
    if (Array.isArray(body?.attachments)) {
      const kept: Array<{ attachment: FakeMessage["attachments"][number]; file: UploadedFile }> = [];
      for (const entry of body.attachments as Array<{ id: string | number }>) {
        const existing = message.attachments.findIndex((a) => a.id === String(entry.id));
        if (existing >= 0) {
          kept.push({ attachment: message.attachments[existing]!, file: message.files[existing]! });
          continue;
        }
        const upload = files.find((f) => f.field === `files[${entry.id}]`);
        if (upload) kept.push({ attachment: this.attachmentOf(message.channelId, message.id, upload), file: upload });
      }
      message.attachments = kept.map((k) => k.attachment);
      message.files = kept.map((k) => k.file);
    }
    if (body?.content !== undefined) message.content = String(body.content ?? "");
    if (body?.embeds !== undefined) message.embeds = body.embeds ?? [];
    if (body?.components !== undefined) message.components = body.components ?? [];
    if (body?.flags !== undefined) message.flags = Number(body.flags);
    message.edits++;
  }

  messagePayload(message: FakeMessage) {
    return messagePayload({
      id: message.id,
      channelId: message.channelId,
      guildId: this.guildId,
      author: message.author,
      content: message.content,
      embeds: message.embeds,
      components: message.components,
      attachments: message.attachments,
      flags: message.flags,
      ...(message.nonce !== undefined ? { nonce: message.nonce } : {}),
      ...(message.messageReference ? { messageReference: message.messageReference } : {}),
      editedTimestamp: message.edits > 0 ? new Date().toISOString() : null,
      ...(message.webhookId ? { webhookId: message.webhookId, applicationId: this.applicationId } : {}),
    });
  }

  /** What everyone sees in a channel: its messages without ephemeral interaction answers. */
  messagesIn(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channelId === channelId && (m.flags & MessageFlags.Ephemeral) === 0);
  }

  interactionByToken(token: string): FakeInteraction | undefined {
    for (const interaction of this.interactions.values()) if (interaction.token === token) return interaction;
    return undefined;
  }
}
