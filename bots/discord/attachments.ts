/**
 * Images people attach on Discord (the `image` option of /gems create, files on a thread reply),
 * downloaded from the attachment's CDN URL and checked like every surface's references
 * (core/images/reference-images.ts) before anything is stored or queued. Attachment URLs are
 * signed and expire (`ex`, `is`, `hm` parameters); an expired one answers 404 "This content is
 * no longer available.", which gets its own answer: attach the image again.
 */
import { checkReferenceCount, checkReferenceImages, checkReferenceSize } from "../../core/images/reference-images.ts";
import type { ImageStore } from "../../core/memory/stores.ts";

export interface DiscordAttachment {
  name: string;
  /** Bytes, as Discord declares it; checked before downloading. */
  size: number;
  url: string;
}

export type AttachmentIntake = { ok: true; hashes: string[] } | { ok: false; message: string };

const DOWNLOAD_TIMEOUT_MS = 20_000;

/** Downloads, checks and stores the attachments; a refusal is one line for the person. */
export async function takeAttachments(
  attachments: readonly DiscordAttachment[],
  images: ImageStore,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<AttachmentIntake> {
  if (attachments.length === 0) return { ok: true, hashes: [] };
  const tooMany = checkReferenceCount(attachments.length);
  if (tooMany) return { ok: false, message: tooMany };
  for (const a of attachments) {
    const tooLarge = checkReferenceSize(a.name, a.size);
    if (tooLarge) return { ok: false, message: tooLarge };
  }
  const sent = [];
  for (const attachment of attachments) {
    const downloaded = await download(attachment, fetchImpl);
    if (!downloaded.ok) return downloaded;
    sent.push({ name: attachment.name, bytes: downloaded.bytes });
  }
  const checked = checkReferenceImages(sent);
  if (!checked.ok) return checked;
  // Stored only once every image passed, so a refused request leaves nothing behind.
  return { ok: true, hashes: await Promise.all(checked.images.map((image) => images.put(image.bytes))) };
}

async function download(attachment: DiscordAttachment, fetchImpl: typeof fetch): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; message: string }> {
  let response: Response;
  try {
    response = await fetchImpl(attachment.url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch {
    return { ok: false, message: `Could not download "${attachment.name}" from Discord. Try attaching it again in a moment.` };
  }
  if (!response.ok) {
    const body = await response.text().catch(() => "");
    if (response.status === 404 && /no longer available/i.test(body)) {
      return { ok: false, message: `Discord's link to "${attachment.name}" has expired. Attach the image again.` };
    }
    return { ok: false, message: `Discord would not hand over "${attachment.name}" (HTTP ${response.status}). Attach it again.` };
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  // The declared size can be wrong; the bytes are what count.
  const tooLarge = checkReferenceSize(attachment.name, bytes.length);
  return tooLarge ? { ok: false, message: tooLarge } : { ok: true, bytes };
}
