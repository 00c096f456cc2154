/**
 * The `/gems` modal: prompt, skill (with each skill's description) and iterations, and reading
 * a submission back into a job request with one error per field, since Slack shows
 * `response_action: "errors"` under the field named by its block_id.
 */
import type { types } from "@slack/bolt";
import { z } from "zod";
import { InputError } from "../../core/errors.ts";
import { MAX_ITERATIONS, MAX_REFERENCE_IMAGES, MIN_ITERATIONS, validateJobRequest, type JobRequestInput } from "../../core/agent/request.ts";
import { checkReferenceCount, checkReferenceSize } from "../../core/images/reference-images.ts";
import type { SharedFile } from "./shared-files.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { SLACK_LIMITS, truncate } from "./limits.ts";

export const CREATE_MODAL_ID = "gems_create";
export const PROMPT_BLOCK = "prompt";
export const SKILL_BLOCK = "skill";
export const ITERATIONS_BLOCK = "iterations";
export const REFINE_BLOCK = "refine";
export const IMAGES_BLOCK = "images";
/** Every input in the modal uses this action_id; the block_id says which field it is. */
export const FIELD_ACTION = "value";

const plain = (text: string, max: number): types.PlainTextElement => ({ type: "plain_text", text: truncate(text, max), emoji: true });

/** The channel the modal was opened from; jobs are posted there. */
const metadataSchema = z.object({ channel: z.string().min(1) });

export function buildCreateModal(skills: SkillLibrary, channel: string): types.ModalView {
  const fixed = [
    skillOption("auto", "Auto", "The planner picks the skill that fits, or none"),
    skillOption("none", "No skill", "Use the prompt as written"),
  ];
  const library = skills.manifest().map((s) => skillOption(s.id, s.name, s.description));
  // A static select takes at most 100 options; the rest stay reachable with /gems --skill.
  const options = [...fixed, ...library].slice(0, SLACK_LIMITS.staticSelectOptions);
  return {
    type: "modal",
    callback_id: CREATE_MODAL_ID,
    private_metadata: JSON.stringify({ channel }),
    title: plain("New GEMS image", SLACK_LIMITS.modalTitle),
    submit: plain("Generate", SLACK_LIMITS.modalButton),
    close: plain("Cancel", SLACK_LIMITS.modalButton),
    blocks: [
      {
        type: "input",
        block_id: PROMPT_BLOCK,
        label: plain("Prompt", SLACK_LIMITS.inputLabel),
        hint: plain("Describe the image. Reply in the job's thread later to steer it.", SLACK_LIMITS.inputLabel),
        element: {
          type: "plain_text_input",
          action_id: FIELD_ACTION,
          multiline: true,
          max_length: SLACK_LIMITS.plainTextInput,
          placeholder: plain('three red cubes left of a blue sphere, a sign that says "OPEN"', SLACK_LIMITS.inputPlaceholder),
        },
      },
      {
        type: "input",
        block_id: SKILL_BLOCK,
        optional: true,
        label: plain("Skill", SLACK_LIMITS.inputLabel),
        element: {
          type: "static_select",
          action_id: FIELD_ACTION,
          initial_option: fixed[0],
          options,
        },
      },
      {
        type: "input",
        block_id: ITERATIONS_BLOCK,
        optional: true,
        label: plain(`Iterations (${MIN_ITERATIONS}–${MAX_ITERATIONS})`, SLACK_LIMITS.inputLabel),
        hint: plain("Leave empty for the default.", SLACK_LIMITS.inputLabel),
        element: {
          type: "number_input",
          action_id: FIELD_ACTION,
          is_decimal_allowed: false,
          min_value: String(MIN_ITERATIONS),
          max_value: String(MAX_ITERATIONS),
        },
      },
      {
        type: "input",
        block_id: REFINE_BLOCK,
        optional: true,
        label: plain("After a failed check", SLACK_LIMITS.inputLabel),
        element: {
          type: "static_select",
          action_id: FIELD_ACTION,
          placeholder: plain("Default", SLACK_LIMITS.inputPlaceholder),
          options: [
            { text: plain("Redraw from a new prompt", SLACK_LIMITS.optionText), value: "redraw" },
            { text: plain("Edit the best image", SLACK_LIMITS.optionText), value: "edit" },
          ],
        },
      },
      {
        type: "input",
        block_id: IMAGES_BLOCK,
        optional: true,
        label: plain(`Reference images (up to ${MAX_REFERENCE_IMAGES})`, SLACK_LIMITS.inputLabel),
        hint: plain("PNG, JPEG or WebP; the job keeps their objects and layout.", SLACK_LIMITS.inputLabel),
        // A file_input's files arrive in the submission with their url_private (read with files:read).
        element: { type: "file_input", action_id: FIELD_ACTION, filetypes: ["png", "jpg", "jpeg", "webp"], max_files: MAX_REFERENCE_IMAGES },
      } as unknown as types.InputBlock,
    ],
  };
}

function skillOption(value: string, name: string, description: string): types.PlainTextOption {
  return {
    text: plain(name, SLACK_LIMITS.optionText),
    value: truncate(value, SLACK_LIMITS.optionValue),
    description: plain(description, SLACK_LIMITS.optionDescription),
  };
}

/** The part of a view_submission payload this modal reads. */
const submissionSchema = z.object({
  private_metadata: z.string(),
  state: z.object({
    values: z.record(z.string(), z.record(z.string(), z.object({
      value: z.string().nullish(),
      selected_option: z.object({ value: z.string() }).nullish(),
      files: z.array(z.object({ id: z.string(), name: z.string(), size: z.number().optional(), url_private: z.string().optional() })).nullish(),
    }))),
  }),
});

export type ModalReading =
  | { ok: true; channel: string; input: JobRequestInput; files: SharedFile[] }
  | { ok: false; errors: Record<string, string> };

/** Reads a submitted modal; the errors are keyed by block_id, as Slack wants them. */
export function readCreateModal(view: unknown, skills: SkillLibrary): ModalReading {
  const parsed = submissionSchema.safeParse(view);
  if (!parsed.success) return { ok: false, errors: { [PROMPT_BLOCK]: "This form could not be read. Close it and run /gems again." } };
  const { values } = parsed.data.state;
  const field = (block: string) => values[block]?.[FIELD_ACTION];
  const prompt = field(PROMPT_BLOCK)?.value ?? "";
  const skill = field(SKILL_BLOCK)?.selected_option?.value ?? undefined;
  const rawIterations = field(ITERATIONS_BLOCK)?.value?.trim() ?? "";
  const iterations = rawIterations === "" ? undefined : Number(rawIterations);
  const refineMode = field(REFINE_BLOCK)?.selected_option?.value ?? undefined;
  const files = field(IMAGES_BLOCK)?.files ?? [];

  // Each field is checked on its own, with the others at harmless values, so every field that
  // is wrong gets its own message, worded as on every other surface.
  const errors: Record<string, string> = {};
  const check = (block: string, input: JobRequestInput) => {
    try {
      validateJobRequest(input, skills, MIN_ITERATIONS);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      errors[block] = truncate(error.message, SLACK_LIMITS.inputLabel);
    }
  };
  check(PROMPT_BLOCK, { prompt });
  check(SKILL_BLOCK, { prompt: "x", skill });
  check(ITERATIONS_BLOCK, { prompt: "x", iterations });
  check(REFINE_BLOCK, { prompt: "x", refineMode });
  // Count and declared sizes now, under the field; the bytes are read after the form closes.
  const imageProblem = checkReferenceCount(files.length) ?? files.map((f) => (f.size !== undefined ? checkReferenceSize(f.name, f.size) : null)).find((p) => p !== null);
  if (imageProblem) errors[IMAGES_BLOCK] = truncate(imageProblem, SLACK_LIMITS.inputLabel);

  let channel: string | undefined;
  try {
    channel = metadataSchema.parse(JSON.parse(parsed.data.private_metadata)).channel;
  } catch {
    errors[PROMPT_BLOCK] ??= "This form lost track of its channel. Close it and run /gems again in the channel.";
  }
  if (Object.keys(errors).length > 0 || channel === undefined) return { ok: false, errors };
  return { ok: true, channel, input: { prompt, skill, iterations, ...(refineMode ? { refineMode } : {}) }, files };
}
