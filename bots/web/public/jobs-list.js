// Every job the service knows, newest first, kept current by the overview event stream.
import { fill, h, show } from "./dom.js";
import { statusBadge } from "./job-view.js";

export function createJobsList(listEl, emptyEl) {
  const jobs = new Map();
  let currentId = null;

  function render() {
    const ordered = [...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    show(emptyEl, ordered.length === 0);
    fill(
      listEl,
      ordered.map((job) => {
        const surface = job.requester.id.split(":")[0];
        const score = job.best ? ` · best ${job.best.passed}/${job.best.total}` : "";
        return h(
          "li",
          {},
          h(
            "a",
            { href: `#/jobs/${encodeURIComponent(job.jobId)}`, class: "job-link", "aria-current": job.jobId === currentId ? "page" : null },
            h("span", { class: "job-line" }, statusBadge(job.status), h("span", { class: "job-prompt", text: job.request.prompt })),
            h("span", {
              class: "job-meta",
              text: `${job.requester.name} · ${surface} · ${job.iterations} of ${job.request.maxIterations} iterations${score}`,
            }),
          ),
        );
      }),
    );
  }

  return {
    replace(list) {
      jobs.clear();
      for (const job of list) jobs.set(job.jobId, job);
      render();
    },
    upsert(job) {
      jobs.set(job.jobId, job);
      render();
    },
    setCurrent(jobId) {
      currentId = jobId;
      render();
    },
  };
}
