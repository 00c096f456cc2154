/**
 * Wire payloads shaped like Discord's (discord-api-types v10, as re-exported by discord.js):
 * users, channels, the guild, messages and the three interaction kinds the bot handles.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  ComponentType,
  InteractionContextType,
  InteractionType,
  MessageType,
  type APIUser,
} from "discord.js";

const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;

/** A fresh snowflake: discord.js reads creation times from ids, so they must look real. */
export function snowflake(): string {
  increment = (increment + 1n) % 4096n;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

export function userPayload(id: string, username: string, globalName: string | null = null, isBot = false): APIUser {
  return { id, username, discriminator: "0", global_name: globalName, avatar: null, ...(isBot ? { bot: true } : {}) };
}

// Everything but administrator: what a typical member with a role might have.
const MEMBER_PERMISSIONS = "2248473465835073";

export function memberPayload(user: APIUser | null, nick: string | null = null) {
  return {
    ...(user ? { user } : {}),
    nick,
    avatar: null,
    banner: null,
    roles: [],
    joined_at: "2024-01-01T00:00:00.000Z",
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

export function textChannelPayload(id: string, guildId: string, name: string) {
  return {
    id,
    type: ChannelType.GuildText,
    guild_id: guildId,
    name,
    position: 0,
    permission_overwrites: [],
    parent_id: null,
    topic: null,
    nsfw: false,
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0,
  };
}

export function threadPayload(id: string, guildId: string, parentId: string, ownerId: string, name: string, autoArchive = 1440) {
  return {
    id,
    type: ChannelType.PublicThread,
    guild_id: guildId,
    parent_id: parentId,
    owner_id: ownerId,
    name,
    last_message_id: null,
    rate_limit_per_user: 0,
    message_count: 0,
    member_count: 1,
    total_message_sent: 0,
    flags: 0,
    thread_metadata: {
      archived: false,
      auto_archive_duration: autoArchive,
      archive_timestamp: new Date().toISOString(),
      locked: false,
      create_timestamp: new Date().toISOString(),
    },
  };
}

export interface MessageFields {
  id: string;
  channelId: string;
  guildId: string;
  author: APIUser;
  content: string;
  embeds?: unknown[];
  components?: unknown[];
  attachments?: unknown[];
  flags?: number;
  nonce?: string | number;
  messageReference?: unknown;
  editedTimestamp?: string | null;
  webhookId?: string;
  applicationId?: string;
}

export function messagePayload(fields: MessageFields) {
  return {
    id: fields.id,
    channel_id: fields.channelId,
    guild_id: fields.guildId,
    author: fields.author,
    content: fields.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: fields.editedTimestamp ?? null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: fields.attachments ?? [],
    embeds: fields.embeds ?? [],
    components: fields.components ?? [],
    pinned: false,
    type: fields.messageReference ? MessageType.Reply : MessageType.Default,
    flags: fields.flags ?? 0,
    ...(fields.nonce !== undefined ? { nonce: fields.nonce } : {}),
    ...(fields.messageReference ? { message_reference: fields.messageReference } : {}),
    ...(fields.webhookId ? { webhook_id: fields.webhookId } : {}),
    ...(fields.applicationId ? { application_id: fields.applicationId } : {}),
  };
}

/** A person's message arriving over the gateway (MESSAGE_CREATE). */
export function incomingMessagePayload(fields: MessageFields & { nick?: string | null; channelType?: ChannelType }) {
  return {
    ...messagePayload(fields),
    member: memberPayload(null, fields.nick ?? null),
    channel_type: fields.channelType ?? ChannelType.PublicThread,
  };
}

export interface InteractionContext {
  applicationId: string;
  guildId: string;
  channel: { id: string; type: ChannelType; parent_id?: string | null; name?: string };
  user: APIUser;
  nick?: string | null;
}

function baseInteraction(context: InteractionContext, type: InteractionType) {
  return {
    id: snowflake(),
    application_id: context.applicationId,
    type,
    token: `interaction-token-${snowflake()}`,
    version: 1,
    guild_id: context.guildId,
    guild: { id: context.guildId, locale: "en-US", features: [] },
    channel_id: context.channel.id,
    channel: { guild_id: context.guildId, name: context.channel.name ?? "channel", ...context.channel },
    member: { ...memberPayload(context.user, context.nick ?? null), permissions: MEMBER_PERMISSIONS },
    app_permissions: "2251799813685247",
    locale: "en-US",
    guild_locale: "en-US",
    entitlements: [],
    authorizing_integration_owners: { "0": context.guildId },
    context: InteractionContextType.Guild,
    attachment_size_limit: 10 * 1024 * 1024,
  };
}

export type OptionValue = string | number | boolean;

/** `subcommand` may name a group and its subcommand ("skill add"), as Discord nests them. */
function subcommandData(commandId: string, guildId: string, subcommand: string, options: Record<string, OptionValue>, focused?: string) {
  const typed = Object.entries(options).map(([name, value]) => ({
    name,
    type: typeof value === "number" ? ApplicationCommandOptionType.Integer : typeof value === "boolean" ? ApplicationCommandOptionType.Boolean : ApplicationCommandOptionType.String,
    value,
    ...(name === focused ? { focused: true } : {}),
  }));
  const [first, second] = subcommand.split(" ");
  const leaf = { type: ApplicationCommandOptionType.Subcommand, name: second ?? first, options: typed };
  return {
    id: commandId,
    name: "gems",
    type: ApplicationCommandType.ChatInput,
    guild_id: guildId,
    options: second ? [{ type: ApplicationCommandOptionType.SubcommandGroup, name: first, options: [leaf] }] : [leaf],
  };
}

/**
 * `attachments`: attachment options by name; each goes in the options as type 11 with the
 * attachment's id as its value, and in `data.resolved.attachments`, as Discord sends them.
 */
export function chatInputPayload(
  context: InteractionContext,
  commandId: string,
  subcommand: string,
  options: Record<string, OptionValue> = {},
  attachments: Record<string, { id: string }> = {},
) {
  const data = subcommandData(commandId, context.guildId, subcommand, options);
  const entries = Object.entries(attachments);
  if (entries.length > 0) {
    // The subcommand's own options, inside its group when it has one ("skill add").
    const top = data.options[0] as { type: number; options: unknown[] };
    const sub = (top.type === ApplicationCommandOptionType.SubcommandGroup ? top.options[0] : top) as { options: unknown[] };
    for (const [name, attachment] of entries) sub.options.push({ name, type: ApplicationCommandOptionType.Attachment, value: attachment.id });
    Object.assign(data, { resolved: { attachments: Object.fromEntries(entries.map(([, a]) => [a.id, a])) } });
  }
  return { ...baseInteraction(context, InteractionType.ApplicationCommand), data };
}

export function autocompletePayload(context: InteractionContext, commandId: string, subcommand: string, options: Record<string, OptionValue>, focused: string) {
  return {
    ...baseInteraction(context, InteractionType.ApplicationCommandAutocomplete),
    data: subcommandData(commandId, context.guildId, subcommand, options, focused),
  };
}

export function buttonPayload(context: InteractionContext, message: unknown, customId: string) {
  return {
    ...baseInteraction(context, InteractionType.MessageComponent),
    message,
    data: { custom_id: customId, component_type: ComponentType.Button },
  };
}
