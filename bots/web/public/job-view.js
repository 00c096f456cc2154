// Renders a job's state into the job panel. Iteration cards are keyed by number and rebuilt
// only when their content changed, so images do not flicker and focus stays where it was.
import { downloadUrl, imageUrl } from "./api.js";
import { fill, h, show } from "./dom.js";
import { checklistOf, doneText, isFinished, latestVerdicts, regressionsOf } from "./job-state.js";
import { passChart } from "./trajectory-chart.js";

const STATUS_LABEL = { queued: "queued", running: "running", done: "done", failed: "failed", cancelled: "stopped" };

// Drawn with CSS around plain ✓/✗ glyphs: emoji fonts are missing on many Linux machines,
// where ✅/❌ would show as empty boxes.
function mark(kind) {
  const glyph = { pass: "✓", fail: "✗", regressed: "↩", pending: "…", retired: "–" }[kind];
  return h("span", { class: `mark mark-${kind}`, "aria-hidden": "true", text: glyph });
}

const ROW_KIND = { passed: "pass", failed: "fail", regressed: "regressed", unchecked: "pending", retired: "retired" };
const ROW_LABEL = { passed: "Passed: ", failed: "Failed: ", regressed: "Regressed (it passed before): ", unchecked: "Not asked of this image: ", retired: "Replaced by feedback: " };

/** One line of an iteration's checklist; a question feedback replaced is struck through (<del>). */
function verdictItem(row) {
  const kind = ROW_KIND[row.mark];
  return h(
    "li",
    { class: kind, title: row.verdict?.answer ?? "" },
    mark(kind),
    h("span", { class: "visually-hidden", text: ROW_LABEL[row.mark] }),
    row.mark === "retired" ? h("del", { text: row.question }) : h("span", { text: row.question }),
    row.mark === "regressed" ? h("span", { class: "tag", text: "regressed" }) : null,
  );
}

/** "5/8 passed", noting how many lines below are regressions or replaced questions. */
function scoreText(checklist) {
  const notes = [checklist.regressed > 0 ? `${checklist.regressed} regressed` : null, checklist.retired > 0 ? `${checklist.retired} replaced` : null].filter(Boolean);
  return `${checklist.passed}/${checklist.total} passed${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`;
}

const scoreOf = (state, it) => {
  const { passed, total } = checklistOf(state, it);
  return { passed, total };
};

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, text: STATUS_LABEL[status] ?? status });
}

/** The result if the job finished, else the iteration leading so far (first wins a tie, as in GEMS). */
export function bestN(state) {
  if (state.best) return state.best.n;
  let leader = null;
  for (const it of state.iterations.values()) {
    if (it.verdicts && it.imageHash && (leader === null || it.passed > leader.passed)) leader = it;
  }
  return leader?.n ?? null;
}

/** Non-reference loop modes, as core's describeModes names them; empty for the reference loop. */
function modesText(modes) {
  if (!modes) return "";
  const parts = [modes.verify === "batch" ? "batch verification" : null, modes.loop === "fast" ? "fast loop" : null].filter(Boolean);
  return parts.length > 0 ? ` · ${parts.join(", ")}` : "";
}

export function createJobView(els, actions) {
  const cards = new Map();

  function renderHeader(state) {
    els.heading.textContent = state.request.prompt;
    const skill = state.plan ? (state.plan.skill ?? "none") : state.request.skill;
    fill(
      els.meta,
      statusBadge(state.status),
      ` by ${state.requester.name} (${state.surface}) · skill: ${skill}${modesText(state.plan?.modes)} · ${state.iterations.size} of ${state.request.maxIterations} iterations`,
      state.status === "queued" && state.position ? ` · number ${state.position} in line` : "",
    );
    if (els.references) {
      const refs = state.references;
      fill(
        els.references,
        ...(refs && refs.hashes.length > 0
          ? [
              h("span", { text: `Reference image${refs.hashes.length === 1 ? "" : "s"}${refs.isUsedByGenerator ? " (sent to the generator)" : ""}: ` }),
              ...refs.hashes.map((hash, i) => h("img", { src: imageUrl(hash), alt: `Reference image ${i + 1}`, width: 96, height: 96, class: "reference" })),
            ]
          : []),
        refs?.note ? h("span", { class: "hint", text: ` ${refs.note}` }) : "",
      );
    }
    const finishedText = doneText(state);
    els.progress.textContent = isFinished(state.status) && finishedText ? finishedText : state.progress;
    // Signed in, someone else's job is read-only; the server refuses anyway, this only hides.
    const canControl = actions.canControl ? actions.canControl(state) : true;
    show(els.stop, canControl && (state.status === "queued" || state.status === "running"));
    show(els.continueForm, canControl && isFinished(state.status));
    if (els.feedback) show(els.feedback, canControl);
    if (els.readOnly) {
      els.readOnly.textContent = canControl ? "" : `Only ${state.requester.name} or an admin can steer this job; you can watch it.`;
      show(els.readOnly, !canControl);
    }
  }

  function renderChecklist(state) {
    const verdicts = latestVerdicts(state);
    const items = [...state.requirements.values()].map((r) => {
      const verdict = verdicts.get(r.id);
      const isRegressed = !r.retired && verdict && !verdict.passed && regressionsOf(state, verdict.n).includes(r.id);
      const kind = r.retired ? "retired" : verdict ? (verdict.passed ? "pass" : isRegressed ? "regressed" : "fail") : "pending";
      const label = r.retired
        ? "replaced"
        : verdict
          ? verdict.passed
            ? `passed on iteration ${verdict.n}`
            : isRegressed
              ? `regressed on iteration ${verdict.n}: it passed before`
              : `failed on iteration ${verdict.n}`
          : "not checked yet";
      return h(
        "li",
        { class: `requirement${r.retired ? " retired" : ""}${r.source === "feedback" ? " from-feedback" : ""}` },
        mark(kind),
        h("span", { class: "question", text: r.question }),
        h("span", { class: "visually-hidden", text: ` (${label})` }),
        r.source === "feedback" ? h("span", { class: "tag", text: "from feedback" }) : null,
      );
    });
    if (items.length === 0) items.push(h("li", { class: "hint", text: "The checklist is written once the job is planned." }));
    fill(els.checklist, items);
  }

  function renderTrajectory(state) {
    const verified = [...state.iterations.values()].filter((it) => it.verdicts).sort((a, b) => a.n - b.n);
    show(els.trajectory, verified.length > 0);
    if (verified.length === 0) return;
    fill(els.chart, passChart(verified.map((it) => ({ n: it.n, ...scoreOf(state, it) }))));
    const best = bestN(state);
    fill(
      els.filmstrip,
      [...state.iterations.values()]
        .sort((a, b) => a.n - b.n)
        .map((it) =>
          h(
            "li",
            { class: it.n === best ? "frame best" : "frame" },
            h(
              "button",
              { type: "button", class: "frame-button", "aria-label": `Show iteration ${it.n}`, onclick: () => actions.showIteration(it.n) },
              it.imageHash ? h("img", { src: imageUrl(it.imageHash), alt: "", width: 96, height: 96, loading: "lazy" }) : h("span", { class: "frame-blank", text: "…" }),
              h("span", { class: "frame-caption", text: `#${it.n} ${it.verdicts ? `${scoreOf(state, it).passed}/${scoreOf(state, it).total}` : ""}${it.n === best ? " ★" : ""}` }),
            ),
          ),
        ),
    );
  }

  function cardSignature(state, it, best) {
    return JSON.stringify([
      it,
      it.verdicts && [...it.verdicts.values()],
      it.verdicts && checklistOf(state, it).rows.map((row) => [row.question, row.mark]),
      best === it.n,
      isFinished(state.status),
      state.stopReason,
      state.best?.n,
      state.iterations.has(it.n + 1),
      state.votes?.get(it.n) ?? null,
    ]);
  }

  /** The newest partial drawing with how far along it is; replaced by the final image. */
  function previewFigure(it) {
    const label = `Generating… ${it.preview.percent}%`;
    return h(
      "div",
      { class: "preview", role: "img", "aria-label": `Iteration ${it.n}, preview: ${it.preview.percent}% done` },
      it.preview.imageHash
        ? h("img", {
            src: imageUrl(it.preview.imageHash),
            alt: "",
            class: "preview-image",
            width: 512,
            height: 512,
            // Preview files are deleted once the final image is stored; a late load just shows the bar.
            onerror: (event) => event.target.remove(),
          })
        : null,
      h("progress", { max: 100, value: it.preview.percent, "aria-hidden": "true" }),
      h("span", { class: "preview-percent", text: label }),
    );
  }

  // Anyone may vote on any job (the team decides together), so these show even when read-only.
  function voteButtons(state, n) {
    const votes = state.votes?.get(n) ?? { up: 0, down: 0 };
    return h(
      "div",
      { class: "votes", role: "group", "aria-label": `Vote on iteration ${n}` },
      h("button", { type: "button", class: "vote-up", "data-focus-key": `up-${n}`, "aria-label": `Vote for iteration ${n} (${votes.up} so far)`, onclick: () => actions.vote(n, "up"), text: `👍 ${votes.up}` }),
      h("button", { type: "button", class: "vote-down", "data-focus-key": `down-${n}`, "aria-label": `Vote against iteration ${n} (${votes.down} so far)`, onclick: () => actions.vote(n, "down"), text: `👎 ${votes.down}` }),
    );
  }

  function renderCard(state, it, best) {
    const isPicked = state.stopReason === "picked" && state.best?.n === it.n;
    const title = `iteration-${it.n}-title`;
    // A preview sits outside <figure>, which holds only the final image (or its placeholder).
    const figure = it.imageHash
      ? h("figure", {}, h("img", { src: imageUrl(it.imageHash), alt: `Iteration ${it.n}: ${it.prompt}`, width: 512, height: 512, loading: "lazy" }))
      : it.preview && !it.error
        ? previewFigure(it)
        : h("figure", {}, h("div", { class: "placeholder", text: it.error ? "No image" : "Generating…" }));
    const checklist = it.verdicts ? checklistOf(state, it) : null;
    const verdicts = checklist
      ? h(
          "ul",
          { class: "verdicts", "aria-label": `Checklist for iteration ${it.n}` },
          checklist.rows.map((row) => verdictItem(row)),
        )
      : it.imageHash
        ? h("p", { class: "hint", text: "Checking…" })
        : null;
    const details = h(
      "dl",
      { class: "details" },
      it.edit
        ? [h("dt", { text: `Edit of iteration ${it.edit.fromN}` }), h("dd", { class: "edit", text: it.edit.instruction })]
        : [h("dt", { text: "Prompt" }), h("dd", { text: it.prompt })],
      it.experience ? [h("dt", { text: "Experience" }), h("dd", { text: it.experience })] : null,
      // Once the next iteration exists its card shows this prompt; repeating it only adds length.
      it.nextPrompt && !state.iterations.has(it.n + 1) ? [h("dt", { text: "Next prompt" }), h("dd", { text: it.nextPrompt })] : null,
      it.error ? [h("dt", { text: "Error" }), h("dd", { class: "error", text: it.error })] : null,
    );
    return h(
      "li",
      { class: `card${best === it.n ? " best" : ""}`, id: `iteration-${it.n}`, "data-n": it.n },
      h(
        "article",
        { "aria-labelledby": title },
        h(
          "header",
          { class: "card-header" },
          h("h4", { id: title, tabindex: "-1", text: `Iteration ${it.n}` }),
          checklist ? h("span", { class: checklist.passed === checklist.total ? "badge all" : "badge", text: scoreText(checklist) }) : null,
          best === it.n ? h("span", { class: "badge best-badge", text: isFinished(state.status) ? "★ result" : "★ best so far" }) : null,
        ),
        figure,
        verdicts,
        details,
        it.thought ? h("details", {}, h("summary", { text: "Thought" }), h("p", { text: it.thought })) : null,
        it.imageHash && actions.vote ? voteButtons(state, it.n) : null,
        it.imageHash && !isPicked && (actions.canControl ? actions.canControl(state) : true)
          ? h("button", { type: "button", class: "pick", "data-focus-key": `pick-${it.n}`, onclick: () => actions.pick(it.n), text: "Use this" })
          : null,
        it.imageHash
          ? h("a", { class: "download", href: downloadUrl(state.jobId, it.n), download: "", "aria-label": `Download iteration ${it.n}'s image`, text: "Download" })
          : null,
      ),
    );
  }

  function renderCards(state) {
    const best = bestN(state);
    const ordered = [...state.iterations.values()].sort((a, b) => a.n - b.n);
    const focusKey = document.activeElement?.closest?.("#iteration-cards") ? document.activeElement.getAttribute("data-focus-key") : null;
    for (const it of ordered) {
      const signature = cardSignature(state, it, best);
      const known = cards.get(it.n);
      if (known?.signature === signature) continue;
      const el = renderCard(state, it, best);
      if (known) known.el.replaceWith(el);
      else els.iterations.append(el);
      cards.set(it.n, { el, signature });
    }
    if (focusKey) els.iterations.querySelector(`[data-focus-key="${focusKey}"]`)?.focus();
  }

  return {
    render(state) {
      renderHeader(state);
      renderChecklist(state);
      renderTrajectory(state);
      renderCards(state);
    },
    reset() {
      // Nothing of the previous job may linger while the next one loads.
      cards.clear();
      els.heading.textContent = "";
      els.meta.replaceChildren();
      els.progress.textContent = "";
      els.iterations.replaceChildren();
      els.checklist.replaceChildren();
      els.filmstrip.replaceChildren();
      els.chart.replaceChildren();
    },
  };
}
