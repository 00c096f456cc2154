/**
 * The Block Kit limits the fake Slack enforces, written down here independently of the bot's
 * own limits.ts so that a wrong limit in the bot fails a test instead of passing silently.
 * Slack answers a violation with `invalid_blocks`; so does the fake.
 */
const LIMITS = {
  messageBlocks: 50,
  modalBlocks: 100,
  sectionText: 3000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  selectOptions: 100,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  modalTitle: 24,
  privateMetadata: 3000,
  plainTextInputMax: 3000,
  imageAlt: 2000,
};

type Json = any;

/** The first problem found, or null when Slack would accept the blocks. */
export function blockProblem(blocks: Json, surface: "message" | "modal", fileExists: (id: string) => boolean): string | null {
  if (!Array.isArray(blocks)) return "blocks must be an array";
  const max = surface === "message" ? LIMITS.messageBlocks : LIMITS.modalBlocks;
  if (blocks.length > max) return `${blocks.length} blocks; at most ${max}`;
  for (const [i, block] of blocks.entries()) {
    const problem = oneBlock(block, fileExists);
    if (problem) return `block ${i} (${String(block?.type)}): ${problem}`;
  }
  return null;
}

function text(object: Json, max: number, what: string): string | null {
  if (typeof object?.text !== "string" || object.text === "") return `${what} has no text`;
  if (object.text.length > max) return `${what} is ${object.text.length} characters; at most ${max}`;
  return null;
}

function oneBlock(block: Json, fileExists: (id: string) => boolean): string | null {
  switch (block?.type) {
    case "section":
      return block.text ? text(block.text, LIMITS.sectionText, "section text") : block.fields ? null : "section without text or fields";
    case "context":
      if (!Array.isArray(block.elements) || block.elements.length === 0) return "context without elements";
      if (block.elements.length > LIMITS.contextElements) return "too many context elements";
      return null;
    case "actions":
      if (!Array.isArray(block.elements) || block.elements.length === 0) return "actions without elements";
      if (block.elements.length > LIMITS.actionsElements) return "too many actions elements";
      for (const element of block.elements) {
        const problem = oneElement(element);
        if (problem) return problem;
      }
      return null;
    case "image":
      if (typeof block.alt_text !== "string" || block.alt_text.length > LIMITS.imageAlt) return "image alt_text missing or too long";
      if (block.slack_file) {
        const id = block.slack_file.id;
        if (typeof id !== "string" || !fileExists(id)) return `slack_file ${String(id)} does not exist`;
        return null;
      }
      return typeof block.image_url === "string" ? null : "image without image_url or slack_file";
    case "input":
      if (!block.label) return "input without label";
      return oneElement(block.element);
    case "divider":
    case "header":
      return null;
    default:
      return "unknown block type";
  }
}

function oneElement(element: Json): string | null {
  switch (element?.type) {
    case "button": {
      const problem = text(element.text, LIMITS.buttonText, "button text");
      if (problem) return problem;
      if (typeof element.value === "string" && element.value.length > LIMITS.buttonValue) return `button value is ${element.value.length} characters`;
      return typeof element.action_id === "string" ? null : "button without action_id";
    }
    case "static_select": {
      if (!Array.isArray(element.options) || element.options.length === 0) return "static_select without options";
      if (element.options.length > LIMITS.selectOptions) return `${element.options.length} options; at most ${LIMITS.selectOptions}`;
      for (const option of element.options) {
        const problem =
          text(option.text, LIMITS.optionText, "option text") ??
          (typeof option.value !== "string" || option.value.length > LIMITS.optionValue ? "option value missing or too long" : null) ??
          (option.description ? text(option.description, LIMITS.optionDescription, "option description") : null);
        if (problem) return problem;
      }
      return null;
    }
    case "plain_text_input":
      if (element.max_length !== undefined && element.max_length > LIMITS.plainTextInputMax) return "plain_text_input max_length over 3000";
      return null;
    case "number_input":
      return typeof element.is_decimal_allowed === "boolean" ? null : "number_input without is_decimal_allowed";
    case "file_input":
      // Block Kit: only in modals' input blocks; max_files 1–10 (default 10), filetypes a list of extensions.
      if (element.max_files !== undefined && (!Number.isInteger(element.max_files) || element.max_files < 1 || element.max_files > 10)) return "file_input max_files must be 1 to 10";
      if (element.filetypes !== undefined && (!Array.isArray(element.filetypes) || element.filetypes.some((t: unknown) => typeof t !== "string"))) return "file_input filetypes must be a list of extensions";
      return typeof element.action_id === "string" ? null : "file_input without action_id";
    default:
      return `unknown element ${String(element?.type)}`;
  }
}

/** Checks a modal view the way views.open does. */
export function viewProblem(view: Json, fileExists: (id: string) => boolean): string | null {
  if (view?.type !== "modal") return "view type must be modal";
  const title = text(view.title, LIMITS.modalTitle, "title");
  if (title) return title;
  if (typeof view.private_metadata === "string" && view.private_metadata.length > LIMITS.privateMetadata) return "private_metadata too long";
  return blockProblem(view.blocks, "modal", fileExists);
}
