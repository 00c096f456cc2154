/**
 * The page's files, read once from public/ at start. Serving only what was listed then means a
 * request path is a map lookup, never a filesystem path, so `..` tricks have nothing to reach.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";

export interface StaticFile {
  bytes: Uint8Array;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

export const PUBLIC_DIR = join(import.meta.dirname, "public");

/** Files keyed by URL path ("/app.js"); "/" is index.html. */
export async function loadStaticFiles(dir: string = PUBLIC_DIR): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const bytes = new Uint8Array(await readFile(join(dir, entry.name)));
    const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 22)}"`;
    files.set(`/${entry.name}`, { bytes, contentType, etag });
  }
  const index = files.get("/index.html");
  if (!index) throw new Error(`The web studio's page is missing: no index.html in ${dir}.`);
  files.set("/", index);
  return files;
}
