/**
 * The user's own ComfyUI workflow, exported in API format ("Export (API)" in ComfyUI's Workflow
 * menu): `{"<node id>": {"class_type": "...", "inputs": {...}}, ...}`. The user marks where our
 * values go by writing placeholders into input values:
 *
 *   "{{prompt}}", "{{negative_prompt}}"   text; may sit inside a longer string ("photo, {{prompt}}")
 *   "{{seed}}", "{{width}}", "{{height}}", "{{steps}}"   numbers; must be the whole value
 *   "{{image}}"   the uploaded image's name, for a LoadImage node's `image` input; whole value
 *   "{{denoise}}"   a number from 0 to 1, for a sampler's `denoise`: how much of the image changes
 *
 * `{{image}}` marks an image workflow (GEMS_COMFYUI_IMAGE_WORKFLOW): the one used to edit an image
 * or to draw from a reference.
 *
 * Placeholders beat node ids in config: they survive re-exporting the workflow (node ids are
 * renumbered when nodes are added) and a reader of the JSON sees what is filled in.
 */

export type ComfyNode = { class_type: string; inputs: Record<string, unknown>; _meta?: unknown };
export type ComfyWorkflow = Record<string, ComfyNode>;

export const TEXT_PLACEHOLDERS = ["prompt", "negative_prompt", "image"] as const;
export const NUMBER_PLACEHOLDERS = ["seed", "width", "height", "steps", "denoise"] as const;
type Placeholder = (typeof TEXT_PLACEHOLDERS)[number] | (typeof NUMBER_PLACEHOLDERS)[number];

export interface ParsedWorkflow {
  workflow: ComfyWorkflow;
  /** The placeholders the workflow uses, so the adapter knows e.g. whether a seed reaches it. */
  placeholders: Set<Placeholder>;
}

export interface WorkflowValues {
  prompt: string;
  negativePrompt: string;
  seed: number;
  width: number;
  height: number;
  steps: number;
  /** The uploaded image's name as LoadImage takes it; image workflows only. */
  image?: string;
  denoise?: number;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z_]+)\s*\}\}/g;
const isText = (name: string): name is (typeof TEXT_PLACEHOLDERS)[number] => (TEXT_PLACEHOLDERS as readonly string[]).includes(name);
const isNumber = (name: string): name is (typeof NUMBER_PLACEHOLDERS)[number] => (NUMBER_PLACEHOLDERS as readonly string[]).includes(name);

/**
 * Checks a workflow file's text; every problem is one line saying what is wrong and what to do.
 * Returns the workflow when there are none.
 */
export function parseComfyWorkflow(text: string): { ok: true; value: ParsedWorkflow } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`is not JSON (${error instanceof Error ? error.message : String(error)})`] };
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, problems: ["must be a JSON object of nodes, as ComfyUI's Workflow → Export (API) writes it"] };
  }
  const record = json as Record<string, unknown>;
  if (Array.isArray(record["nodes"]) && "links" in record) {
    return {
      ok: false,
      problems: ["is in ComfyUI's UI format (it has \"nodes\" and \"links\"); save it with Workflow → Export (API) instead"],
    };
  }
  const problems: string[] = [];
  const placeholders = new Set<Placeholder>();
  for (const [id, node] of Object.entries(record)) {
    if (!node || typeof node !== "object" || typeof (node as ComfyNode).class_type !== "string") {
      problems.push(`node "${id}" has no class_type; export the workflow with Workflow → Export (API)`);
      continue;
    }
    const inputs = (node as ComfyNode).inputs;
    if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) {
      problems.push(`node "${id}" (${(node as ComfyNode).class_type}) has no inputs object`);
      continue;
    }
    for (const [input, value] of Object.entries(inputs)) {
      if (typeof value !== "string") continue;
      for (const match of value.matchAll(PLACEHOLDER)) {
        const name = match[1] as string;
        const where = `node "${id}" (${(node as ComfyNode).class_type}) input "${input}"`;
        if (name === "image" && value.trim() !== match[0]) problems.push(`${where}: {{image}} must be the whole value (a LoadImage node's image input), got "${value}"`);
        else if (isText(name)) placeholders.add(name);
        else if (isNumber(name)) {
          if (value.trim() !== match[0]) problems.push(`${where}: {{${name}}} must be the whole value (it is a number), got "${value}"`);
          else placeholders.add(name);
        } else {
          problems.push(`${where}: unknown placeholder {{${name}}}; use one of ${[...TEXT_PLACEHOLDERS, ...NUMBER_PLACEHOLDERS].map((p) => `{{${p}}}`).join(", ")}`);
        }
      }
    }
  }
  if (Object.keys(record).length === 0) problems.push("has no nodes");
  else if (!placeholders.has("prompt")) {
    problems.push('has no {{prompt}} placeholder; write "{{prompt}}" as the text of your positive prompt node (e.g. CLIPTextEncode)');
  }
  if (placeholders.has("width") !== placeholders.has("height")) {
    problems.push("uses only one of {{width}} and {{height}}; mark both, or neither");
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { workflow: record as ComfyWorkflow, placeholders } };
}

/** A copy of the workflow with every placeholder replaced; the parsed original is never changed. */
export function fillWorkflow(workflow: ComfyWorkflow, values: WorkflowValues): ComfyWorkflow {
  const byName: Record<Placeholder, string | number> = {
    prompt: values.prompt,
    negative_prompt: values.negativePrompt,
    seed: values.seed,
    width: values.width,
    height: values.height,
    steps: values.steps,
    image: values.image ?? "",
    denoise: values.denoise ?? 1,
  };
  const filled: ComfyWorkflow = {};
  for (const [id, node] of Object.entries(workflow)) {
    const inputs: Record<string, unknown> = {};
    for (const [input, value] of Object.entries(node.inputs)) {
      if (typeof value !== "string" || !value.includes("{{")) {
        inputs[input] = structuredClone(value);
        continue;
      }
      const whole = /^\s*\{\{\s*([a-zA-Z_]+)\s*\}\}\s*$/.exec(value);
      if (whole && isNumber(whole[1] as string)) inputs[input] = byName[whole[1] as Placeholder];
      // A function replacer: a prompt containing "$&" must not be read as a replacement pattern.
      else inputs[input] = value.replace(PLACEHOLDER, (match, name: string) => (isText(name) ? String(byName[name]) : match));
    }
    filled[id] = { ...node, inputs };
  }
  return filled;
}
