/** `gems inspect <file>`: the provenance GEMS Bot wrote into an image it posted or saved. */
import { readFile } from "node:fs/promises";
import { PROVENANCE_FIELDS, readProvenance } from "../../core/images/provenance.ts";

const LABELS: Record<(typeof PROVENANCE_FIELDS)[number], string> = {
  jobId: "job id",
  iteration: "iteration",
  prompt: "prompt",
  request: "request",
  mllm: "MLLM",
  generator: "generator",
  surface: "posted on",
  sourceSha256: "source sha256",
};

const FORMAT: Record<string, string> = { "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP" };

export interface InspectIo {
  out(line: string): void;
  err(line: string): void;
}

/** 0 when the file carries GEMS provenance; 2, with one line saying why, when it does not. */
export async function inspectImage(path: string | undefined, io: InspectIo, options: { json?: boolean } = {}): Promise<number> {
  if (!path) {
    io.err("gems inspect: name the image to read, e.g. gems inspect out/<job id>/best.png");
    return 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "there is no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : String(code ?? error);
    io.err(`gems inspect: cannot read ${path}: ${why}.`);
    return 2;
  }
  const reading = readProvenance(bytes);
  if (!reading.ok) {
    const hint =
      reading.reason === "no-provenance"
        ? " (GEMS Bot did not post or save it, or a tool stripped its metadata)"
        : reading.reason === "not-an-image"
          ? "; GEMS Bot writes provenance into PNG, JPEG and WebP files"
          : "";
    io.err(`gems inspect: ${path}: ${reading.message}${hint}.`);
    return 2;
  }
  if (options.json) {
    io.out(JSON.stringify({ file: path, format: FORMAT[reading.contentType] ?? reading.contentType, ...reading.provenance }));
    return 0;
  }
  io.out(`${path}: ${FORMAT[reading.contentType] ?? reading.contentType} made by GEMS Bot`);
  const width = Math.max(...PROVENANCE_FIELDS.map((f) => LABELS[f].length)) + 1;
  for (const field of PROVENANCE_FIELDS) {
    const value = reading.provenance[field];
    if (value === undefined) continue;
    // Multi-line prompts stay readable: continuation lines line up under the first.
    io.out(`  ${`${LABELS[field]}:`.padEnd(width)} ${value.replace(/\r?\n/g, `\n  ${" ".repeat(width)} `)}`);
  }
  return 0;
}
