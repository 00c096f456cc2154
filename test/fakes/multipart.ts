/**
 * Reads a multipart/form-data body the way a real server's framework would (undici's parser,
 * the one behind fetch's Request.formData), for the fakes of upload routes.
 */
import type { RecordedRequest } from "./loopback-server.ts";

export interface UploadedFile {
  /** The form field, e.g. "image" or "image[]". */
  field: string;
  filename: string;
  /** As the client declared it. */
  type: string;
  bytes: Uint8Array;
}

export interface MultipartForm {
  fields: Record<string, string>;
  files: UploadedFile[];
}

/** The form, or null when the body is not multipart/form-data (or cannot be read as such). */
export async function readMultipart(request: RecordedRequest): Promise<MultipartForm | null> {
  const contentType = String(request.headers["content-type"] ?? "");
  if (!contentType.startsWith("multipart/form-data")) return null;
  let form: FormData;
  try {
    form = await new Response(request.rawBody, { headers: { "content-type": contentType } }).formData();
  } catch {
    return null;
  }
  const result: MultipartForm = { fields: {}, files: [] };
  for (const [field, value] of form.entries()) {
    if (typeof value === "string") result.fields[field] = value;
    else result.files.push({ field, filename: value.name, type: value.type, bytes: new Uint8Array(await value.arrayBuffer()) });
  }
  return result;
}
