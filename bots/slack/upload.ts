/**
 * Images into a thread with files.uploadV2, which is Slack's three-step external upload:
 * files.getUploadURLExternal, the bytes to the returned URL, then files.completeUploadExternal
 * with channel_id and thread_ts, which shares the file as a reply carrying `initial_comment`.
 */
import type { webApi } from "@slack/bolt";
import { withImageExtension } from "../../core/images/image-type.ts";
import { withProvenance, type ImageProvenance } from "../../core/images/provenance.ts";
import { SLACK_LIMITS, truncateMrkdwn } from "./limits.ts";

export interface ThreadUpload {
  channel: string;
  threadTs: string;
  png: Uint8Array;
  filename: string;
  title: string;
  /** mrkdwn shown with the image. */
  comment: string;
  /** Written into the file's metadata (core/images/provenance.ts). */
  provenance?: ImageProvenance | null;
  /** Told why, when the provenance could not be written; the image goes up without it. */
  onUntagged?: (error: unknown) => void;
}

function tagged(upload: ThreadUpload): Uint8Array {
  if (!upload.provenance) return upload.png;
  try {
    return withProvenance(upload.png, upload.provenance);
  } catch (error) {
    upload.onUntagged?.(error);
    return upload.png;
  }
}

/** Uploads one PNG as a thread reply and returns its file id. */
export async function uploadToThread(client: webApi.WebClient, upload: ThreadUpload): Promise<string> {
  const png = tagged(upload);
  const result = await client.filesUploadV2({
    channel_id: upload.channel,
    thread_ts: upload.threadTs,
    initial_comment: truncateMrkdwn(upload.comment, SLACK_LIMITS.messageText),
    file: Buffer.from(png.buffer, png.byteOffset, png.byteLength),
    // Generators may send JPEG or WebP; Slack previews a file by its extension.
    filename: withImageExtension(upload.filename, upload.png),
    title: upload.title,
  });
  const fileId = result.files[0]?.files?.[0]?.id;
  if (fileId === undefined) throw new Error("files.completeUploadExternal answered without a file id");
  return fileId;
}
