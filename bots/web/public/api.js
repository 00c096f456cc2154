// The studio's JSON API. Errors carry the server's message, which is written for people.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The studio cannot be reached. Is `gems serve` still running?");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.code ?? "http", data?.error?.message ?? `The studio answered ${response.status}.`);
  }
  return data;
}

export const jobPath = (jobId) => `/api/jobs/${encodeURIComponent(jobId)}`;
export const imageUrl = (hash) => `/images/${hash}.png`;
/** The iteration's image as a file to keep, with its provenance (job, iteration, prompt, models) written in. */
export const downloadUrl = (jobId, n) => `${jobPath(jobId)}/iterations/${n}/image`;

/**
 * Uploads the chosen files one by one (POST /api/images, the file as the body) and returns their
 * hashes; the server checks count, size and type and its message is the error.
 */
export async function uploadImages(files) {
  const hashes = [];
  for (const file of files) {
    let response;
    try {
      // Sent as plain bytes whatever the file claims to be: the server tells the type from the
      // bytes, so a wrong pick gets "not a PNG, JPEG or WebP image" rather than a media-type error.
      response = await fetch("/api/images", { method: "POST", headers: { "content-type": "application/octet-stream" }, body: file });
    } catch {
      throw new ApiError(0, "network", "The studio cannot be reached. Is `gems serve` still running?");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data?.error?.code ?? "http", `${file.name}: ${data?.error?.message ?? `the studio answered ${response.status}.`}`);
    hashes.push(data.hash);
  }
  return hashes;
}
