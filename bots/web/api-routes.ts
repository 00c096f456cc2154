/**
 * The studio's JSON API: each handler validates the body's shape, calls the job service as the
 * person named in it, and turns a refusal into a 4xx with the service's own message.
 */
import type { FastifyRequest } from "fastify";
import { FEEDBACK_MAX_CHARS, MAX_ITERATIONS, MIN_ITERATIONS, PROMPT_MAX_CHARS } from "../../core/agent/request.ts";
import { MAX_EXTRA_ITERATIONS } from "../../core/jobs/limits.ts";
import { checkControl, isAdmin } from "../../core/jobs/permissions.ts";
import type { JobService, Person, Result } from "../../core/jobs/types.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { USAGE_DEFAULT_DAYS, USAGE_MAX_DAYS, type UsageAccess } from "../../core/jobs/usage-ledger.ts";
import { NAME_MISSING, addSkillBody, skillDefaultBody, continueBody, feedbackBody, parseBody, personBody, pickBody, startJobBody, voteBody } from "./api-schemas.ts";
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { EventStreams } from "./event-streams.ts";
import { HttpError, readJsonBody, refusalError, sendJson } from "./http-io.ts";
import { WEB_LIMITS } from "./limits.ts";
import { webPerson } from "./person.ts";
import type { Route, RouteContext } from "./router.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { checkReferenceCount, checkReferenceImages, checkReferenceSize, MAX_REFERENCE_BYTES } from "../../core/images/reference-images.ts";

export interface ApiDeps {
  jobs: JobService;
  /** Where uploaded reference images go; without it the upload route answers 404. */
  images?: ImageStore;
  skills: SkillLibrary;
  streams: EventStreams;
  modelsDescription: string | undefined;
  /** "oidc" when people sign in; "none" when the page names them (attribution only). */
  authMode: "oidc" | "none";
  /** GEMS_ADMINS, so the page knows whose jobs this person may steer (the service decides). */
  admins: readonly string[];
  /** The usage ledger for /api/usage; absent: 404. */
  usage?: UsageAccess | undefined;
  /** Team skills (numbers, add, defaults); absent, the skill routes answer 404 and GET lists plain skills. */
  team?: TeamSkillsService | undefined;
}

// The service makes ids of letters, digits, "-" and "_"; anything else cannot name a job.
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

function jobIdOf(ctx: RouteContext): string {
  let id: string;
  try {
    id = decodeURIComponent(ctx.params[0] ?? "");
  } catch {
    id = ctx.params[0] ?? "";
  }
  if (!JOB_ID.test(id)) throw new HttpError(404, "not-found", `There is no job "${id.slice(0, 80)}".`);
  return id;
}

/** The signed-in person, or without sign-in the person the body names. */
function actorOf(ctx: RouteContext, name: string | undefined): Person {
  if (ctx.person) return ctx.person;
  if (name === undefined) throw new HttpError(400, "input", NAME_MISSING);
  return webPerson(name);
}

function teamOf(deps: ApiDeps): TeamSkillsService {
  if (!deps.team) throw new HttpError(404, "not-found", "Team skills are not set up on this GEMS Bot.");
  return deps.team;
}

function ok<T extends object>(result: Result<T>): T & { ok: true } {
  if (!result.ok) throw refusalError(result);
  return result;
}

/** Last-Event-ID (a reconnecting browser) wins over ?after= (a first connection that already has some events). */
function afterSeqOf(req: FastifyRequest, url: URL): number {
  const header = req.headers["last-event-id"];
  const raw = (typeof header === "string" && header.trim() !== "" ? header : url.searchParams.get("after"))?.trim();
  if (raw === undefined || raw === "") return 0;
  const seq = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(seq)) {
    throw new HttpError(400, "input", `"after" must be a whole number of 0 or more, the seq of the last event you have (got "${raw.slice(0, 40)}").`);
  }
  return seq;
}

export function apiRoutes(deps: ApiDeps): Route[] {
  const { jobs, skills, streams } = deps;
  const web = { surface: "web" };

  /** Hashes in a body must name images uploaded through /api/images, at most MAX_REFERENCE_IMAGES of them. */
  async function checkStored(hashes: readonly string[] | undefined): Promise<void> {
    if (!hashes || hashes.length === 0) return;
    const tooMany = checkReferenceCount(hashes.length);
    if (tooMany) throw new HttpError(400, "input", tooMany);
    for (const hash of hashes) {
      if (!/^[0-9a-f]{64}$/.test(hash) || !deps.images || !(await deps.images.has(hash))) {
        throw new HttpError(400, "input", `images: "${hash.slice(0, 70)}" is not an uploaded image; upload it with POST /api/images first.`);
      }
    }
  }

  return [
    {
      // One reference image as the raw body (studio.ts's image parser reads it, up to a hard stop);
      // answers its hash for a job or feedback.
      url: "/api/images",
      methods: {
        POST: async ({ req, res }) => {
          if (!deps.images) throw new HttpError(404, "not-found", "This studio takes no images.");
          const bytes = req.body instanceof Uint8Array ? req.body : null;
          if (bytes === null) throw new HttpError(415, "unsupported-media-type", 'Send the image file itself as the body, with its type as "Content-Type" (image/png, image/jpeg or image/webp).');
          if (bytes.length > MAX_REFERENCE_BYTES) throw new HttpError(413, "too-large", checkReferenceSize("The image", bytes.length) as string, { connection: "close" });
          if (bytes.length === 0) throw new HttpError(400, "input", "The upload is empty; send the image file as the request body.");
          const checked = checkReferenceImages([{ name: "the upload", bytes }]);
          if (!checked.ok) throw new HttpError(400, "input", checked.message);
          const hash = await deps.images.put(bytes);
          sendJson(req, res, 201, { hash, contentType: checked.images[0]!.contentType });
        },
      },
    },
    {
      url: "/api/info",
      methods: {
        GET: ({ req, res }) =>
          sendJson(req, res, 200, {
            models: deps.modelsDescription ?? null,
            limits: {
              promptMaxChars: PROMPT_MAX_CHARS,
              feedbackMaxChars: FEEDBACK_MAX_CHARS,
              minIterations: MIN_ITERATIONS,
              maxIterations: MAX_ITERATIONS,
              maxExtraIterations: MAX_EXTRA_ITERATIONS,
              nameMaxChars: WEB_LIMITS.nameMaxChars,
              imageMaxBytes: MAX_REFERENCE_BYTES,
            },
          }),
      },
    },
    {
      url: "/api/me",
      methods: {
        GET: ({ req, res, person }) =>
          sendJson(req, res, 200, {
            auth: deps.authMode,
            person,
            isAdmin: person !== null && isAdmin(person, deps.admins),
          }),
      },
    },
    {
      // The person's own usage (admins: the team's, by person), per UTC day, for the usage page.
      url: "/api/usage",
      methods: {
        GET: (ctx) => {
          const { req, res, url } = ctx;
          if (!deps.usage) throw new HttpError(404, "not-found", "This studio does not keep a usage ledger.");
          const raw = url.searchParams.get("days")?.trim() || String(USAGE_DEFAULT_DAYS);
          const days = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
          if (!(days >= 1 && days <= USAGE_MAX_DAYS)) {
            throw new HttpError(400, "input", `"days" must be a whole number from 1 to ${USAGE_MAX_DAYS} (got "${raw.slice(0, 20)}").`);
          }
          const person = actorOf(ctx, url.searchParams.get("name") ?? undefined);
          const isTeam = isAdmin(person, deps.usage.admins);
          const since = new Date(Date.now() - days * 86_400_000);
          const report = deps.usage.ledger.report(isTeam ? { since } : { since, personId: person.id });
          sendJson(req, res, 200, { person, isTeam, days, report, quotas: deps.usage.ledger.quotas });
        },
      },
    },
    {
      url: "/api/skills",
      methods: {
        // With team skills each entry also says isTeamSkill and its stat (see README "Team skills").
        GET: ({ req, res }) => {
          const listing = deps.team?.list();
          sendJson(req, res, 200, listing ? { skills: listing.skills, noSkill: listing.noSkill } : { skills: skills.manifest() });
        },
        POST: async (ctx) => {
          const team = teamOf(deps);
          const body = parseBody(addSkillBody, await readJsonBody(ctx.req));
          const by = actorOf(ctx, body.name);
          if (!team.isAdmin(by)) throw new HttpError(403, "forbidden", "Only admins (GEMS_ADMINS) can add skills. Ask one to add it.");
          const added = await team.add(body.text, by);
          if (!added.ok) throw new HttpError(400, "input", added.message);
          sendJson(ctx.req, ctx.res, 201, added, { location: "/api/skills" });
        },
      },
    },
    {
      url: "/api/me/skill-default",
      methods: {
        GET: async (ctx) => {
          const team = teamOf(deps);
          const name = ctx.url.searchParams.get("name") ?? undefined;
          sendJson(ctx.req, ctx.res, 200, { skill: (await team.getDefault(actorOf(ctx, name))) ?? "auto" });
        },
        POST: async (ctx) => {
          const team = teamOf(deps);
          const body = parseBody(skillDefaultBody, await readJsonBody(ctx.req));
          const result = await team.setDefault(actorOf(ctx, body.name), body.skill);
          if (!result.ok) throw new HttpError(400, "input", result.message);
          sendJson(ctx.req, ctx.res, 200, { skill: body.skill.trim().toLowerCase(), message: result.message });
        },
      },
    },
    {
      url: "/api/events",
      methods: { GET: ({ req, res }) => streams.openOverviewStream(req, res) },
    },
    {
      url: "/api/jobs",
      methods: {
        GET: ({ req, res }) => sendJson(req, res, 200, { jobs: jobs.list().slice(0, WEB_LIMITS.jobListMax) }),
        POST: async (ctx) => {
          const { req, res } = ctx;
          const body = parseBody(startJobBody, await readJsonBody(req));
          const { name, images: referenceImages, refine, ...input } = body;
          await checkStored(referenceImages);
          const request = { ...input, ...(referenceImages ? { referenceImages } : {}), ...(refine ? { refineMode: refine } : {}) };
          const submitted = ok(await jobs.submit(request, actorOf(ctx, name), web));
          sendJson(req, res, 201, { jobId: submitted.jobId, position: submitted.position }, { location: `/api/jobs/${submitted.jobId}` });
        },
      },
    },
    {
      url: "/api/jobs/:id",
      methods: { GET: (ctx) => sendJson(ctx.req, ctx.res, 200, { job: ok(jobs.status(jobIdOf(ctx))).job }) },
    },
    {
      url: "/api/jobs/:id/events",
      methods: {
        GET: (ctx) => {
          const jobId = jobIdOf(ctx);
          const afterSeq = afterSeqOf(ctx.req, ctx.url);
          // Answered as JSON while it still can be: once the stream starts the status is 200.
          ok(jobs.status(jobId));
          streams.openJobStream(ctx.req, ctx.res, jobId, afterSeq);
        },
      },
    },
    {
      url: "/api/jobs/:id/feedback",
      methods: {
        POST: async (ctx) => {
          const jobId = jobIdOf(ctx);
          const body = parseBody(feedbackBody, await readJsonBody(ctx.req));
          const author = actorOf(ctx, body.name);
          // Signed in, someone else's job is read-only here, feedback included (chat surfaces
          // let a channel chip in unless GEMS_FEEDBACK_REQUESTER_ONLY says otherwise).
          if (ctx.person) {
            const denied = checkControl("feedback", ok(jobs.status(jobId)).job.requester, author, deps.admins);
            if (denied) throw refusalError(denied);
          }
          await checkStored(body.images);
          const result = ok(await jobs.addFeedback(jobId, author, body.text, body.images ?? []));
          sendJson(ctx.req, ctx.res, 200, { isApplied: result.isApplied, questions: result.questions });
        },
      },
    },
    {
      url: "/api/jobs/:id/stop",
      methods: {
        POST: async (ctx) => {
          const jobId = jobIdOf(ctx);
          const body = parseBody(personBody, await readJsonBody(ctx.req));
          const result = ok(await jobs.cancel(jobId, actorOf(ctx, body.name)));
          sendJson(ctx.req, ctx.res, 200, { best: result.best });
        },
      },
    },
    {
      url: "/api/jobs/:id/pick",
      methods: {
        POST: async (ctx) => {
          const jobId = jobIdOf(ctx);
          const body = parseBody(pickBody, await readJsonBody(ctx.req));
          const result = ok(await jobs.pick(jobId, body.iteration, actorOf(ctx, body.name)));
          sendJson(ctx.req, ctx.res, 200, { best: result.best });
        },
      },
    },
    {
      // Votes are the team's say on anyone's job, so unlike feedback they are open to every
      // signed-in person; one vote per person per iteration, the last one counts.
      url: "/api/jobs/:id/vote",
      methods: {
        POST: async (ctx) => {
          const jobId = jobIdOf(ctx);
          const body = parseBody(voteBody, await readJsonBody(ctx.req));
          const result = ok(await jobs.vote(jobId, actorOf(ctx, body.name), body.iteration, body.vote));
          sendJson(ctx.req, ctx.res, 200, { votes: result.votes });
        },
      },
    },
    {
      url: "/api/jobs/:id/continue",
      methods: {
        POST: async (ctx) => {
          const jobId = jobIdOf(ctx);
          const body = parseBody(continueBody, await readJsonBody(ctx.req));
          const result = ok(await jobs.continue(jobId, body.iterations, actorOf(ctx, body.name)));
          sendJson(ctx.req, ctx.res, 202, { position: result.position });
        },
      },
    },
  ];
}
