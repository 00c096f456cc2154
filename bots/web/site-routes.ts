/** Everything outside /api: the page's files, stored images, /healthz and /metrics. */
import { sniffImageType } from "../../core/images/image-type.ts";
import { GemsError } from "../../core/errors.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { HttpError, send, sendJson } from "./http-io.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";
import type { Route } from "./router.ts";
import type { StaticFile } from "./static-files.ts";
import type { StudioMetrics } from "./studio-metrics.ts";

export interface SiteDeps {
  jobs: JobService;
  images: ImageStore;
  metrics: StudioMetrics;
  files: Map<string, StaticFile>;
  sseClients: () => number;
  startedAt: number;
}

export function siteRoutes(deps: SiteDeps): Route[] {
  const { jobs, images, files } = deps;
  return [
    {
      url: "/healthz",
      methods: {
        GET: ({ req, res }) =>
          sendJson(req, res, 200, {
            status: "ok",
            uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
            jobs: jobs.metrics(),
            corruptJobs: jobs.corruptJobs().length,
          }),
      },
    },
    {
      url: "/metrics",
      methods: {
        GET: ({ req, res }) =>
          send(req, res, 200, deps.metrics.render({ sseClients: deps.sseClients() }), { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" }),
      },
    },
    {
      url: "/images/:name",
      methods: {
        GET: async ({ req, res, params }) => {
          const match = /^([0-9a-f]{64})\.png$/.exec(params[0] ?? "");
          if (!match?.[1]) throw new HttpError(404, "not-found", "Image links look like /images/<64 hexadecimal characters>.png.");
          const hash = match[1];
          let png: Uint8Array;
          try {
            png = await images.get(hash);
          } catch (error) {
            if (error instanceof GemsError && error.code === "not-found") throw new HttpError(404, "not-found", error.message);
            throw error;
          }
          // Content-addressed: the bytes behind a hash never change, so browsers may keep them.
          // Links keep the .png name every image once had; the header says what the bytes are.
          send(req, res, 200, png, {
            "content-type": sniffImageType(png) ?? "application/octet-stream",
            "cache-control": "public, max-age=31536000, immutable",
            etag: `"${hash}"`,
          });
        },
      },
    },
    ...["/", "/:file"].map((path): Route => ({
      url: path,
      methods: {
        GET: ({ req, res, url }) => {
          const file = files.get(url.pathname);
          if (!file) throw new HttpError(404, "not-found", `Nothing is served at ${url.pathname}.`);
          if (req.headers["if-none-match"] === file.etag) {
            void res.code(304).headers({ etag: file.etag, "cache-control": "no-cache" }).send();
            return;
          }
          // no-cache means "revalidate": an updated page shows at once, an unchanged one costs a 304.
          send(req, res, 200, file.bytes, { "content-type": file.contentType, "cache-control": "no-cache", etag: file.etag });
        },
      },
    })),
  ];
}
