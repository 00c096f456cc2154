/**
 * The bot's own REST calls: messages, edits, threads, reactions. They go through discord.js's
 * REST client (which queues per rate-limit bucket and retries 429 and 5xx), by id, so they work
 * for channels the gateway cache never saw, such as threads from before a restart.
 */
import { Routes, ThreadAutoArchiveDuration, type APIMessage, type APIThreadChannel, type REST, type RawFile, type RESTPostAPIChannelMessageJSONBody } from "discord.js";
import type { Logger } from "pino";
import type { ImageStore } from "../../core/memory/stores.ts";
import { withImageExtension } from "../../core/images/image-type.ts";
import { fitUploadWithProvenance } from "./image-fit.ts";
import { DISCORD_LIMITS } from "./limits.ts";
import { safeError } from "./log-safe.ts";
import type { ImageAttachment, OutgoingMessage } from "./render.ts";
import type { EncodedImage } from "../../core/images/sharp-images.ts";

export interface DiscordRest {
  /** Posts a message; `nonce` makes a repeat of the same post (after a crash) return the first one. */
  post(channelId: string, message: OutgoingMessage, nonce?: string): Promise<APIMessage>;
  /**
   * Edits text, embeds and buttons. Attachments stay as they are, unless the message says it
   * replaces them: then they become exactly its images (API v10 keeps only listed attachments).
   */
  edit(channelId: string, messageId: string, message: OutgoingMessage): Promise<APIMessage>;
  startThread(channelId: string, messageId: string, name: string): Promise<APIThreadChannel>;
  react(channelId: string, messageId: string, emoji: string): Promise<void>;
  /** Sends a direct message: the only private answer Discord allows to a plain message. */
  sendDirect(userId: string, content: string): Promise<APIMessage>;
}

export function createDiscordRest(rest: REST, images: ImageStore, logger: Logger): DiscordRest {
  async function filesOf(message: OutgoingMessage): Promise<RawFile[]> {
    const files: RawFile[] = [];
    for (const image of message.images) {
      let bytes: Uint8Array;
      try {
        bytes = await images.get(image.hash);
      } catch (error) {
        // A swept or lost image must not hold back the message that describes it.
        logger.warn({ err: safeError(error), hash: image.hash }, "could not load an image to attach");
        continue;
      }
      const fitted = await fitWithProvenance(bytes, image);
      if (!fitted) {
        logger.warn({ hash: image.hash, bytes: bytes.byteLength }, "image too large to upload even when shrunk");
        continue;
      }
      const data = Buffer.from(fitted.bytes.buffer, fitted.bytes.byteOffset, fitted.bytes.byteLength);
      files.push({ name: withImageExtension(image.name, fitted.bytes), data, contentType: fitted.contentType });
    }
    return files;
  }

  async function fitWithProvenance(bytes: Uint8Array, image: ImageAttachment): Promise<EncodedImage | null> {
    return fitUploadWithProvenance(bytes, DISCORD_LIMITS.uploadBytes, image.provenance, (error) =>
      // The picture matters more than its label: it is posted bare rather than not at all.
      logger.warn({ err: safeError(error), hash: image.hash }, "could not write provenance into an image; uploading it without"),
    );
  }

  return {
    async post(channelId, message, nonce) {
      const files = await filesOf(message);
      const body: RESTPostAPIChannelMessageJSONBody = { ...message.body };
      if (nonce) {
        body.nonce = nonce.slice(0, DISCORD_LIMITS.nonce);
        body.enforce_nonce = true;
      }
      if (files.length > 0) body.attachments = files.map((file, id) => ({ id, filename: file.name }));
      return (await rest.post(Routes.channelMessages(channelId), { body, files })) as APIMessage;
    },

    async edit(channelId, messageId, message) {
      const { message_reference: _reference, ...body } = message.body;
      if (!message.isReplacingImages) return (await rest.patch(Routes.channelMessage(channelId, messageId), { body })) as APIMessage;
      const files = await filesOf(message);
      // A preview deleted before it could be read: leave the attachments rather than blank them.
      if (files.length === 0 && message.images.length > 0) return (await rest.patch(Routes.channelMessage(channelId, messageId), { body })) as APIMessage;
      const withFiles = { ...body, attachments: files.map((file, id) => ({ id, filename: file.name })) };
      return (await rest.patch(Routes.channelMessage(channelId, messageId), { body: withFiles, files })) as APIMessage;
    },

    async startThread(channelId, messageId, name) {
      return (await rest.post(Routes.threads(channelId, messageId), {
        body: { name, auto_archive_duration: ThreadAutoArchiveDuration.OneDay },
      })) as APIThreadChannel;
    },

    async react(channelId, messageId, emoji) {
      await rest.put(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji)));
    },

    async sendDirect(userId, content) {
      const dm = (await rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
      return (await rest.post(Routes.channelMessages(dm.id), { body: { content, allowed_mentions: { parse: [] } } })) as APIMessage;
    },
  };
}
