/** Everything outside /api: the page's files, stored images, /healthz and /metrics. */
import { sniffImageType, withImageExtension } from "../../core/images/image-type.ts";
import { provenanceFor, withProvenance } from "../../core/images/provenance.ts";
import { GemsError } from "../../core/errors.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { HttpError, refusalError, send, sendJson } from "./http-io.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";
import type { Route } from "./router.ts";
import type { StaticFile } from "./static-files.ts";
import type { StudioMetrics } from "./studio-metrics.ts";
import { checkHealth } from "./dependency-health.ts";

export interface SiteDeps {
  jobs: JobService;
  images: ImageStore;
  metrics: StudioMetrics;
  files: Map<string, StaticFile>;
  sseClients: () => number;
  startedAt: number;
  /** Scaled out: which role and instance answers. */
  processLabels?: { role: string; instance: string };
}

export function siteRoutes(deps: SiteDeps): Route[] {
  const { jobs, images, files } = deps;
  return [
    {
      url: "/healthz",
      methods: {
        GET: async ({ req, res }) => {
          const { httpStatus, ...health } = await checkHealth(jobs);
          sendJson(req, res, httpStatus, {
            status: health.status,
            ...(deps.processLabels ?? {}),
            uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
            ...(health.dependencies ? { dependencies: health.dependencies } : {}),
            jobs: jobs.metrics(),
            corruptJobs: jobs.corruptJobs().length,
          });
        },
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
    {
      // A download: the iteration's image with its provenance written in (job, iteration, prompt,
      // models), named for the job. /images/<hash> stays the store's bytes, shared and cacheable.
      url: "/api/jobs/:id/iterations/:n/image",
      methods: {
        GET: async ({ req, res, params }) => {
          const jobId = params[0] ?? "";
          const n = /^\d{1,4}$/.test(params[1] ?? "") ? Number(params[1]) : Number.NaN;
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw new HttpError(404, "not-found", `There is no job "${jobId.slice(0, 80)}".`);
          const found = jobs.status(jobId);
          if (!found.ok) throw refusalError(found);
          const t = found.job.trajectory;
          const hash = t.iterations.find((it) => it.n === n)?.imageHash;
          if (!hash) throw new HttpError(404, "not-found", `Job ${jobId} has no image for iteration ${params[1]?.slice(0, 10) ?? "?"}.`);
          let bytes: Uint8Array;
          try {
            bytes = await images.get(hash);
          } catch (error) {
            if (error instanceof GemsError && error.code === "not-found") throw new HttpError(404, "not-found", error.message);
            throw error;
          }
          const provenance = provenanceFor(t, n, "web", hash);
          const tagged = provenance ? withProvenance(bytes, provenance) : bytes;
          send(req, res, 200, tagged, {
            "content-type": sniffImageType(tagged) ?? "application/octet-stream",
            "content-disposition": `attachment; filename="${withImageExtension(`gems-${jobId}-${n}.png`, tagged)}"`,
            "cache-control": "no-store",
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
