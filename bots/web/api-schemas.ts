/**
 * The shapes of the API's JSON bodies. Only types and presence are checked here; what a prompt,
 * a feedback text or an iteration count may be is the job service's call, so the studio answers
 * with the same words as every other surface.
 */
import { z } from "zod";
import { HttpError } from "./http-io.ts";
import { WEB_LIMITS } from "./limits.ts";

/** Without sign-in the name says who acts; signed in, the session does and the name is ignored. */
export const NAME_MISSING = "name must be text: the name the studio asked you for, so others see who did what.";

const name = z
  .string({ error: NAME_MISSING })
  .trim()
  .min(1, "name is empty: say who you are, e.g. \"Ada\".")
  .max(WEB_LIMITS.nameMaxChars, `name is longer than ${WEB_LIMITS.nameMaxChars} characters; use a shorter one.`)
  .regex(/^[^\p{Cc}\p{Cf}]+$/u, "name must not contain control characters.")
  .optional();

export const startJobBody = z.strictObject({
  prompt: z.string({ error: "prompt must be text: a description of the image you want." }),
  skill: z.string({ error: "skill must be text: auto, none or a skill id from GET /api/skills." }).optional(),
  iterations: z.number({ error: "iterations must be a number from 1 to 10." }).optional(),
  seed: z.number({ error: "seed must be a number." }).optional(),
  images: z.array(z.string(), { error: "images must be a list of hashes from POST /api/images." }).optional(),
  refine: z.enum(["redraw", "edit"], { error: "refine must be redraw or edit." }).optional(),
  name,
});

export const feedbackBody = z.strictObject({
  text: z.string({ error: "text must be a string: the feedback, saying what the next image should change." }),
  images: z.array(z.string(), { error: "images must be a list of hashes from POST /api/images." }).optional(),
  name,
});

export const personBody = z.strictObject({ name });

export const addSkillBody = z.strictObject({
  text: z.string({ error: "text must be a string: the whole SKILL.md, as read from the file." }),
  name,
});

export const skillDefaultBody = z.strictObject({
  skill: z.string({ error: "skill must be text: a skill id from GET /api/skills, auto or none." }),
  name,
});

export const pickBody = z.strictObject({
  iteration: z.number({ error: "iteration must be a number: the iteration whose image to use." }),
  name,
});

export const voteBody = z.strictObject({
  iteration: z.number({ error: "iteration must be a number: the iteration whose image you vote on." }),
  vote: z.enum(["up", "down", "clear"], { error: 'vote must be "up", "down" or "clear".' }),
  name,
});

export const continueBody = z.strictObject({
  iterations: z.number({ error: "iterations must be a number: how many more iterations to run, from 1 to 10." }),
  name,
});

/** Parses `value` or throws a 400 whose message names each problem and its field. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.path.length === 0) {
      return issue.code === "invalid_type" ? "The request body must be a JSON object." : issue.message.replace(/^Unrecognized key/, "Unknown field");
    }
    return issue.message;
  });
  throw new HttpError(400, "input", [...new Set(problems)].join(" "));
}
