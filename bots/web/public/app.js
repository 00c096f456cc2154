// The studio page: a start form, the open job (live over server-sent events), and the list of
// every job. Routes are in the hash (#/jobs/<id>) so the server serves one page.
import { api, jobPath, uploadImages } from "./api.js";
import { askName, savedName } from "./name.js";
import { applyEvent, createJobState, isFinished, setVotes, updateFromStatus } from "./job-state.js";
import { createJobView } from "./job-view.js";
import { createJobsList } from "./jobs-list.js";
import { createStartForm } from "./start-form.js";
import { createSkillsPanel } from "./skills-panel.js";
import { show } from "./dom.js";

const $ = (id) => document.getElementById(id);

let name = savedName();
// Who the server says this is: with sign-in (auth "oidc") the session names the person.
let me = { auth: "none", person: null, isAdmin: false };
// Signed in, the server takes the person from the session and the body names nobody.
const bodyName = () => (me.auth === "oidc" ? undefined : name);
let open = null; // { jobId, state, source }
let renderQueued = false;
let limits = { feedbackMaxChars: 2000, maxExtraIterations: 10 };

const view = createJobView(
  {
    heading: $("job-heading"),
    meta: $("job-meta"),
    references: $("job-references"),
    progress: $("job-progress"),
    stop: $("stop-button"),
    continueForm: $("continue-form"),
    checklist: $("checklist"),
    trajectory: $("trajectory"),
    chart: $("pass-chart"),
    filmstrip: $("filmstrip"),
    iterations: $("iteration-cards"),
    feedback: $("feedback-form"),
    readOnly: $("read-only-note"),
  },
  {
    pick: (n) => act("pick", { iteration: n }),
    // Votes change no event; the answer carries the new counts.
    async vote(n, vote) {
      const jobId = open?.jobId;
      const answer = await act("vote", { iteration: n, vote });
      if (answer?.votes && open?.jobId === jobId) {
        setVotes(open.state, answer.votes);
        scheduleRender();
      }
    },
    canControl: (state) => me.auth !== "oidc" || me.isAdmin || state.requester.id === me.person?.id,
    showIteration(n) {
      const card = $(`iteration-${n}`);
      card?.scrollIntoView({ behavior: "smooth", block: "start" });
      card?.querySelector("h4")?.focus({ preventScroll: true });
    },
  },
);

const jobsList = createJobsList($("jobs-list"), $("jobs-empty"));

const startForm = createStartForm(
  {
    form: $("start-form"),
    prompt: $("prompt"),
    skill: $("skill"),
    iterations: $("iterations"),
    refine: $("refine"),
    images: $("start-images"),
    description: $("skill-description"),
    error: $("start-error"),
    submit: $("start-form").querySelector("button[type=submit]"),
  },
  {
    currentName: bodyName,
    onStarted(jobId) {
      location.hash = `#/jobs/${encodeURIComponent(jobId)}`;
    },
  },
);

const skillsPanel = createSkillsPanel({
  currentName: bodyName,
  // Without sign-in anyone may try; the server checks GEMS_ADMINS either way.
  canAdd: () => me.auth !== "oidc" || me.isAdmin,
  onSkillsChanged: (skills) => startForm.setSkills(skills),
});

// Many events can arrive at once (a replay); the page redraws once per frame.
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (open) view.render(open.state);
  });
}

function closeJob() {
  open?.source.close();
  open = null;
  view.reset();
  show($("job-body"), false);
  show($("job-empty"), true);
  document.body.classList.remove("has-job");
  jobsList.setCurrent(null);
}

async function refreshStatus(jobId) {
  try {
    const { job } = await api("GET", jobPath(jobId));
    if (open?.jobId !== jobId) return;
    updateFromStatus(open.state, job);
    scheduleRender();
  } catch {
    // The stream keeps the view current; a missed refresh only leaves the header's counts stale.
  }
}

async function openJob(jobId, { isFocused }) {
  if (open?.jobId === jobId) return;
  closeJob();
  $("job-error").textContent = "";
  $("feedback-status").textContent = "";
  let job;
  try {
    ({ job } = await api("GET", jobPath(jobId)));
  } catch (error) {
    show($("job-empty"), true);
    $("job-empty").querySelector("p").textContent = error.message;
    return;
  }
  const state = createJobState(job);
  // The browser resends the last seq it saw (Last-Event-ID) when it reconnects.
  const source = new EventSource(`${jobPath(jobId)}/events`);
  open = { jobId, state, source };
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (!applyEvent(state, event)) return;
    if (event.type === "job.queued" || isFinished(state.status)) void refreshStatus(jobId);
    scheduleRender();
  };
  source.addEventListener("gone", () => {
    source.close();
    $("job-error").textContent = "This job was removed from the store.";
  });
  show($("job-empty"), false);
  show($("job-body"), true);
  document.body.classList.add("has-job");
  jobsList.setCurrent(jobId);
  view.render(state);
  if (isFocused) {
    $("job-heading").setAttribute("tabindex", "-1");
    $("job-heading").focus();
  }
}

function route({ isFocused = true } = {}) {
  const match = /^#\/jobs\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (match) void openJob(match[1], { isFocused });
  else closeJob();
}

async function act(action, body, button) {
  if (!open) return null;
  $("job-error").textContent = "";
  if (button) button.disabled = true;
  try {
    return await api("POST", `${jobPath(open.jobId)}/${action}`, { ...body, name: bodyName() });
  } catch (error) {
    $("job-error").textContent = error.message;
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

$("stop-button").addEventListener("click", (event) => act("stop", {}, event.currentTarget));

$("continue-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const more = $("more-iterations").value;
  void act("continue", { iterations: more === "" ? Number.NaN : Number(more) }, event.submitter);
});

const feedbackText = $("feedback-text");
function countFeedback() {
  $("feedback-count").textContent = `${feedbackText.value.trim().length} / ${limits.feedbackMaxChars}`;
}
feedbackText.addEventListener("input", countFeedback);
$("feedback-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!open) return;
  const status = $("feedback-status");
  status.textContent = "";
  $("job-error").textContent = "";
  event.submitter.disabled = true;
  try {
    const files = [...$("feedback-images").files];
    if (files.length > 4) throw new Error(`${files.length} images were chosen; the limit is 4.`);
    const images = files.length > 0 ? await uploadImages(files) : [];
    const result = await api("POST", `${jobPath(open.jobId)}/feedback`, { text: feedbackText.value, name: bodyName(), ...(images.length ? { images } : {}) });
    feedbackText.value = "";
    $("feedback-images").value = "";
    countFeedback();
    status.textContent = result.isApplied
      ? `Thanks: ${result.questions.length} question${result.questions.length === 1 ? "" : "s"} joined the checklist. Use “Refine more” to act on it.`
      : "Thanks: it joins the job before its next step.";
  } catch (error) {
    $("job-error").textContent = error.message;
  } finally {
    event.submitter.disabled = false;
  }
});

$("new-job").addEventListener("click", () => {
  $("start-form").scrollIntoView({ block: "start" });
  $("prompt").focus({ preventScroll: true });
});

$("change-name").addEventListener("click", async () => {
  if (me.auth === "oidc") {
    await api("POST", "/auth/logout").catch(() => {});
    location.reload();
    return;
  }
  name = await askName($("name-dialog"), name);
  $("who-name").textContent = name;
});

/** With sign-in: the session's person, or a Sign in link and nothing else. False when signed out. */
function showSignIn() {
  if (me.auth !== "oidc") return true;
  if (!me.person) {
    $("who-name").textContent = "not signed in";
    show($("change-name"), false);
    show($("sign-in"), true);
    $("start-form").querySelector("button[type=submit]").disabled = true;
    $("start-error").textContent = "Sign in to start jobs and see the team's.";
    return false;
  }
  name = me.person.name;
  $("who-name").textContent = name;
  $("change-name").textContent = "sign out";
  // The provider sends the browser back to "/": the job it was opening is restored from here.
  const wanted = sessionStorage.getItem(AFTER_SIGN_IN);
  sessionStorage.removeItem(AFTER_SIGN_IN);
  if (wanted && wanted.startsWith("#/")) history.replaceState(null, "", wanted);
  return true;
}

const AFTER_SIGN_IN = "gems-after-sign-in";
$("sign-in").addEventListener("click", () => sessionStorage.setItem(AFTER_SIGN_IN, location.hash));

function watchAllJobs() {
  const source = new EventSource("/api/events");
  source.addEventListener("job", (message) => jobsList.upsert(JSON.parse(message.data)));
  // After a reconnect the summaries it missed are fetched whole.
  source.addEventListener("open", () => void api("GET", "/api/jobs").then(({ jobs }) => jobsList.replace(jobs), () => {}));
}

async function init() {
  me = await api("GET", "/api/me");
  if (!showSignIn()) return;
  // Fetched while the person types their name, so the form is ready when the dialog closes.
  const loading = Promise.all([api("GET", "/api/info"), api("GET", "/api/skills")]);
  // Marked handled now; the failure is still thrown where it is awaited below.
  loading.catch(() => {});
  if (!name && me.auth !== "oidc") name = await askName($("name-dialog"), null);
  $("who-name").textContent = name;
  const [info, skills] = await loading;
  limits = info.limits;
  feedbackText.maxLength = limits.feedbackMaxChars;
  $("more-iterations").max = String(limits.maxExtraIterations);
  countFeedback();
  if (info.models) {
    $("models").textContent = `Models: ${info.models}`;
    show($("models"), true);
  }
  startForm.setLimits(limits);
  startForm.setSkills(skills.skills);
  void skillsPanel.load();
  watchAllJobs();
  window.addEventListener("hashchange", () => route());
  route({ isFocused: false });
}

init().catch((error) => {
  $("start-error").textContent = `The studio could not load: ${error.message}`;
});
