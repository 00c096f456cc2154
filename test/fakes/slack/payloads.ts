/**
 * Request payloads shaped like the ones Slack sends (cf. SlashCommand, BlockAction,
 * ViewSubmitAction and the Events API envelope in @slack/bolt's types), built from what the
 * fake Slack recorded, so a button press carries the exact value the bot put on the button.
 */
import type { FakeMessage, FakeSlack } from "./fake-slack.ts";

type Json = any;

export interface SlackUser {
  id: string;
  /** The legacy username Slack still sends as user_name / user.username. */
  name: string;
}

export const API_APP_ID = "A0GEMS";
let counter = 0;
const nextTriggerId = () => `${++counter}.7000000000.${"a".repeat(8)}${counter}`;

export function slashCommand(fake: FakeSlack, text: string, user: SlackUser, channel: string): Record<string, string> {
  return {
    token: "verification-token-unused",
    team_id: fake.teamId,
    team_domain: "gems-test",
    channel_id: channel,
    channel_name: "art",
    user_id: user.id,
    user_name: user.name,
    command: "/gems",
    text,
    api_app_id: API_APP_ID,
    is_enterprise_install: "false",
    response_url: fake.responseUrl(),
    trigger_id: nextTriggerId(),
  };
}

/** The block_actions payload of pressing the button `actionId` on `message`. */
export function buttonPress(fake: FakeSlack, message: FakeMessage, actionId: string, user: SlackUser): Json {
  const block = message.blocks.find((b: Json) => b.type === "actions" && b.elements.some((e: Json) => e.action_id === actionId));
  const element = block?.elements.find((e: Json) => e.action_id === actionId);
  if (!block || !element) throw new Error(`message ${message.ts} has no ${actionId} button`);
  return {
    type: "block_actions",
    user: { id: user.id, username: user.name, name: user.name, team_id: fake.teamId },
    api_app_id: API_APP_ID,
    token: "verification-token-unused",
    container: { type: "message", message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, ...(message.threadTs ? { thread_ts: message.threadTs } : {}) },
    trigger_id: nextTriggerId(),
    team: { id: fake.teamId, domain: "gems-test" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: message.channel, name: "art" },
    message: {
      type: "message",
      user: message.user,
      bot_id: message.botId,
      text: message.text,
      ts: message.ts,
      blocks: message.blocks,
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
    },
    state: { values: {} },
    response_url: fake.responseUrl(),
    actions: [{ ...element, block_id: block.block_id ?? "blk", action_ts: `${Date.now() / 1000}` }],
  };
}

export interface ModalAnswers {
  prompt?: string | null;
  skill?: string | null;
  iterations?: string | null;
  refine?: string | null;
  /** Files picked in the file_input (FakeSlack.shareFile entries). */
  images?: Json[];
}

/** The view_submission payload of submitting the modal the bot opened with these answers. */
export function modalSubmission(fake: FakeSlack, view: Json, user: SlackUser, answers: ModalAnswers): Json {
  const skillOption = answers.skill
    ? view.blocks.find((b: Json) => b.block_id === "skill").element.options.find((o: Json) => o.value === answers.skill) ?? { text: { type: "plain_text", text: answers.skill }, value: answers.skill }
    : null;
  return {
    type: "view_submission",
    team: { id: fake.teamId, domain: "gems-test" },
    user: { id: user.id, username: user.name, name: user.name, team_id: fake.teamId },
    api_app_id: API_APP_ID,
    token: "verification-token-unused",
    trigger_id: nextTriggerId(),
    view: {
      ...view,
      state: {
        values: {
          prompt: { value: { type: "plain_text_input", value: answers.prompt ?? null } },
          skill: { value: { type: "static_select", selected_option: skillOption } },
          iterations: { value: { type: "number_input", value: answers.iterations ?? null } },
          refine: { value: { type: "static_select", selected_option: answers.refine ? { text: { type: "plain_text", text: answers.refine }, value: answers.refine } : null } },
          images: { value: { type: "file_input", files: answers.images ?? [] } },
        },
      },
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export interface MessageEventFields {
  channel: string;
  user: string;
  text: string;
  ts: string;
  threadTs?: string;
  subtype?: string;
  botId?: string;
  /** Shared files (FakeSlack.shareFile); the event's subtype becomes "file_share". */
  files?: Json[];
  /** "channel" unless told: "im" for a direct message to the bot. */
  channelType?: string;
}

/** An Events API callback for a message event, e.g. a reply in a job's thread. */
export function messageEvent(fake: FakeSlack, fields: MessageEventFields): Json {
  const event: Json = {
    type: "message",
    channel: fields.channel,
    user: fields.user,
    text: fields.text,
    ts: fields.ts,
    event_ts: fields.ts,
    channel_type: fields.channelType ?? "channel",
    team: fake.teamId,
    ...(fields.threadTs ? { thread_ts: fields.threadTs, parent_user_id: fake.botUserId } : {}),
    ...(fields.subtype ? { subtype: fields.subtype } : {}),
    ...(fields.botId ? { bot_id: fields.botId, app_id: "A0OTHER" } : {}),
    ...(fields.files ? { files: fields.files, subtype: fields.subtype ?? "file_share", upload: false } : {}),
  };
  return eventCallback(fake, event);
}

/** reaction_added / reaction_removed on a message, as the Events API sends it (scope reactions:read). */
export function reactionEvent(
  fake: FakeSlack,
  fields: { isAdded: boolean; user: string; reaction: string; channel: string; ts: string; itemUser: string },
): Json {
  const eventTs = `${Math.floor(Date.now() / 1000)}.${String(++counter).padStart(6, "0")}`;
  return eventCallback(fake, {
    type: fields.isAdded ? "reaction_added" : "reaction_removed",
    user: fields.user,
    reaction: fields.reaction,
    item_user: fields.itemUser,
    item: { type: "message", channel: fields.channel, ts: fields.ts },
    event_ts: eventTs,
  });
}

/** app_mention: someone wrote `<@bot> …` in a channel the bot is in (scope app_mentions:read). */
export function appMentionEvent(fake: FakeSlack, fields: { user: string; text: string; channel: string; ts: string; threadTs?: string }): Json {
  return eventCallback(fake, {
    type: "app_mention",
    user: fields.user,
    text: fields.text,
    ts: fields.ts,
    channel: fields.channel,
    event_ts: fields.ts,
    team: fake.teamId,
    client_msg_id: `msg-${++counter}`,
    blocks: [],
    ...(fields.threadTs ? { thread_ts: fields.threadTs } : {}),
  });
}

/** The event_callback envelope every Events API event comes in. */
export function eventCallback(fake: FakeSlack, event: Json): Json {
  return {
    token: "verification-token-unused",
    team_id: fake.teamId,
    api_app_id: API_APP_ID,
    event,
    type: "event_callback",
    event_id: `Ev${++counter}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: fake.teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-eyJldCI6Im1lc3NhZ2UifQ${counter}`,
  };
}
