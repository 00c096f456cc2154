// The new-job form: prompt, skill (with the selected skill's description) and iterations.
import { api, uploadImages } from "./api.js";
import { h } from "./dom.js";

const BUILT_IN = {
  auto: "The planner picks at most one skill that fits your prompt, or none.",
  none: "No skill: the agent works from your prompt alone.",
};

export function createStartForm(els, { currentName, onStarted }) {
  const descriptions = new Map(Object.entries(BUILT_IN));

  function describe() {
    els.description.textContent = descriptions.get(els.skill.value) ?? "";
  }

  els.skill.addEventListener("change", describe);

  els.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    els.error.textContent = "";
    const body = { prompt: els.prompt.value, skill: els.skill.value, name: currentName() };
    // An empty number input means "the server's default"; anything typed is sent as is and
    // checked by the server, which words the problem the same way every surface does.
    if (els.iterations.value !== "") body.iterations = Number(els.iterations.value);
    if (els.refine.value !== "") body.refine = els.refine.value;
    els.submit.disabled = true;
    try {
      // Count first, so twenty files are refused before any is sent.
      if (els.images.files.length > 4) throw new Error(`${els.images.files.length} images were chosen; the limit is 4 reference images per request.`);
      if (els.images.files.length > 0) body.images = await uploadImages([...els.images.files]);
      const started = await api("POST", "/api/jobs", body);
      els.prompt.value = "";
      els.images.value = "";
      onStarted(started.jobId);
    } catch (error) {
      els.error.textContent = error.message;
      els.prompt.focus();
    } finally {
      els.submit.disabled = false;
    }
  });

  return {
    setSkills(skills) {
      for (const skill of skills) {
        // Called again after a team skill is added: known ids only get their new description.
        const isKnown = descriptions.has(skill.id);
        descriptions.set(skill.id, skill.description);
        if (isKnown) continue;
        els.skill.append(h("option", { value: skill.id, text: skill.name }));
      }
      describe();
    },
    setLimits(limits) {
      els.prompt.maxLength = limits.promptMaxChars;
      els.iterations.min = String(limits.minIterations);
      els.iterations.max = String(limits.maxIterations);
    },
  };
}
