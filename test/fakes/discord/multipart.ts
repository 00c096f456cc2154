/**
 * A small multipart/form-data reader for the fake Discord: message posts with files arrive as
 * `files[n]` parts plus a `payload_json` part, exactly as discord.js's REST client sends them.
 */
export interface FormPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

export function boundaryOf(contentType: string | undefined): string | null {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? "");
  return match ? (match[1] ?? match[2] ?? "").trim() : null;
}

export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let start = body.indexOf(delimiter);
  if (start < 0) throw new Error("multipart body without its boundary");
  for (;;) {
    start += delimiter.length;
    // "--" after a delimiter closes the body.
    if (body.subarray(start, start + 2).toString() === "--") break;
    start += CRLF.length;
    const next = body.indexOf(delimiter, start);
    if (next < 0) throw new Error("multipart part without a closing boundary");
    // The CRLF before the next delimiter belongs to the delimiter, not to the data.
    const part = body.subarray(start, next - CRLF.length);
    const headerEnd = part.indexOf(HEADER_END);
    if (headerEnd < 0) throw new Error("multipart part without headers");
    const headers = part.subarray(0, headerEnd).toString("utf8");
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? "";
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) throw new Error(`multipart part without a name: ${headers}`);
    parts.push({
      name,
      filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? null,
      contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? null,
      data: Buffer.from(part.subarray(headerEnd + HEADER_END.length)),
    });
    start = next;
  }
  return parts;
}
