/**
 * Files people share in a job's thread, read as reference images. Slack serves a file's
 * `url_private` only with the bot token in `Authorization: Bearer …` (and the `files:read`
 * scope); without it Slack answers its sign-in page as HTML, which is told apart here. Every
 * file is checked like every surface's references (core/images/reference-images.ts) before
 * anything is stored or queued.
 */
import { checkReferenceCount, checkReferenceImages, checkReferenceSize } from "../../core/images/reference-images.ts";
import type { ImageStore } from "../../core/memory/stores.ts";

export interface SharedFile {
  name: string;
  size?: number | undefined;
  url_private?: string | undefined;
}

export type FileIntake = { ok: true; hashes: string[] } | { ok: false; message: string };

const DOWNLOAD_TIMEOUT_MS = 20_000;

export async function takeSharedFiles(files: readonly SharedFile[], botToken: string, images: ImageStore, fetchImpl: typeof fetch = globalThis.fetch): Promise<FileIntake> {
  if (files.length === 0) return { ok: true, hashes: [] };
  const tooMany = checkReferenceCount(files.length);
  if (tooMany) return { ok: false, message: tooMany };
  for (const file of files) {
    const tooLarge = file.size !== undefined ? checkReferenceSize(file.name, file.size) : null;
    if (tooLarge) return { ok: false, message: tooLarge };
  }
  const sent = [];
  for (const file of files) {
    if (!file.url_private) return { ok: false, message: `Slack gave no download link for "${file.name}". Share it again as a file.` };
    let response: Response;
    try {
      response = await fetchImpl(file.url_private, { headers: { Authorization: `Bearer ${botToken}` }, signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    } catch {
      return { ok: false, message: `Could not reach Slack to read "${file.name}". Share it again in a moment.` };
    }
    if (!response.ok) return { ok: false, message: `Slack would not hand over "${file.name}" (HTTP ${response.status}). Share it again.` };
    if ((response.headers.get("content-type") ?? "").startsWith("text/html")) {
      // Slack's sign-in page: the token was refused or lacks files:read.
      await response.body?.cancel();
      return { ok: false, message: `Slack would not let GEMS Bot read "${file.name}"; the app needs the files:read scope. Ask an admin to reinstall it.` };
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const tooLarge = checkReferenceSize(file.name, bytes.length);
    if (tooLarge) return { ok: false, message: tooLarge };
    sent.push({ name: file.name, bytes });
  }
  const checked = checkReferenceImages(sent);
  if (!checked.ok) return checked;
  return { ok: true, hashes: await Promise.all(checked.images.map((image) => images.put(image.bytes))) };
}
