// The skills panel: each skill's numbers, the person's default, and (admins) uploading a SKILL.md.
import { api } from "./api.js";
import { h } from "./dom.js";

const $ = (id) => document.getElementById(id);

const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);
const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(1));

function describe(stat) {
  if (!stat) return "no finished jobs yet";
  const own = `${stat.jobs} job${stat.jobs === 1 ? "" : "s"}, ${pct(stat.passRate)} all passed, ${num(stat.imagesPerSuccess)} images per success`;
  if (!stat.baseline) return own;
  return `${own} (no skill on similar prompts: ${pct(stat.baseline.passRate)}, ${num(stat.baseline.imagesPerSuccess)})`;
}

export function createSkillsPanel({ currentName, canAdd, onSkillsChanged }) {
  const message = $("skills-message");
  const say = (text) => (message.textContent = text);

  async function refresh() {
    const listing = await api("GET", "/api/skills");
    const list = $("skills-list");
    list.replaceChildren(
      ...listing.skills.map((s) =>
        h("li", {}, [h("strong", { text: s.name }), h("span", { text: ` (${s.id}${s.isTeamSkill ? " · team" : ""}): ${describe(s.stat)}` })]),
      ),
    );
    $("skills-baseline").textContent = listing.noSkill ? `Without a skill: ${describe(listing.noSkill)}. "Similar" means as many checks (1–3, 4–6, 7+).` : "";
    const select = $("skill-default");
    select.replaceChildren(h("option", { value: "auto", text: "Auto" }), h("option", { value: "none", text: "None" }), ...listing.skills.map((s) => h("option", { value: s.id, text: s.name })));
    return listing;
  }

  $("skill-default-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", "/api/me/skill-default", { skill: $("skill-default").value, name: currentName() });
      say(answer.message);
    } catch (error) {
      say(error.message);
    }
  });

  $("skill-add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("skill-file").files?.[0];
    if (!file) return say("Choose a SKILL.md first.");
    try {
      const added = await api("POST", "/api/skills", { text: await file.text(), name: currentName() });
      say(`Skill ${added.name} (${added.id}) ${added.isReplacing ? "replaced" : "added"}: version ${added.version}. The next job can use it.`);
      onSkillsChanged((await refresh()).skills);
    } catch (error) {
      say(error.message);
    }
  });

  return {
    async load() {
      $("skill-add-form").hidden = !canAdd();
      try {
        await refresh();
        const mine = await api("GET", `/api/me/skill-default?name=${encodeURIComponent(currentName() ?? "")}`);
        $("skill-default").value = mine.skill;
      } catch (error) {
        // Without team skills (404) the panel stays as a plain list.
        if (error.status === 404) $("skill-default-form").hidden = true;
        else say(error.message);
      }
    },
  };
}
