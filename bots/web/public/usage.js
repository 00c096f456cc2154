// The usage page: your jobs' tokens, images and cost over a period (admins: the team's, by
// person), with a bar per UTC day drawn as plain SVG.
import { api } from "./api.js";
import { fill, h, svg } from "./dom.js";
import { savedName } from "./name.js";
import { money, usageBars } from "./usage-chart.js";

const els = {
  days: document.querySelector("#days"),
  summary: document.querySelector("#summary"),
  chart: document.querySelector("#chart"),
  people: document.querySelector("#people"),
  error: document.querySelector("#error"),
};

async function load() {
  els.error.textContent = "";
  const days = els.days.value;
  const name = savedName();
  const query = new URLSearchParams({ days, ...(name ? { name } : {}) });
  let data;
  try {
    data = await api("GET", `/api/usage?${query}`);
  } catch (error) {
    els.error.textContent = error.message;
    return;
  }
  const { report } = data;
  const total = report.total;
  const cost = total.cost !== null ? money(total.cost, report.currency) : "no prices set";
  fill(
    els.summary,
    `${data.isTeam ? "The team" : data.person.name}: ${cost} · ${plural(total.jobs, "job")} · ${plural(total.images, "image")} · `,
    `${total.inputTokens.toLocaleString("en-US")} tokens in, ${total.outputTokens.toLocaleString("en-US")} out`,
    total.unpriced.length > 0 ? ` · no price for ${total.unpriced.join(", ")}` : "",
  );
  const metric = total.cost !== null ? "cost" : "images";
  drawChart(usageBars(report.byDay, Number(days), new Date(), metric), metric, report.currency);
  fill(
    els.people,
    data.isTeam
      ? report.byPerson.map((p) =>
          h("tr", {}, h("td", { text: p.personName }), h("td", { text: p.personId }), h("td", { text: p.cost !== null ? money(p.cost, report.currency) : "—" }), h("td", { text: String(p.jobs) }), h("td", { text: String(p.images) })),
        )
      : [],
  );
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function drawChart(bars, metric, currency) {
  const width = 640;
  const height = 160;
  const gap = 2;
  const barWidth = Math.max(1, width / bars.length - gap);
  fill(
    els.chart,
    svg(
      "svg",
      { viewBox: `0 0 ${width} ${height + 16}`, role: "img", "aria-label": `${metric === "cost" ? "Cost" : "Images"} per day` },
      bars.map((bar, i) => {
        const barHeight = Math.round(bar.share * height);
        const label = `${bar.day}: ${metric === "cost" ? money(bar.value, currency) : `${bar.value} images`}`;
        return svg(
          "rect",
          { x: i * (barWidth + gap), y: height - barHeight, width: barWidth, height: Math.max(barHeight, 1), class: "usage-bar" },
          svg("title", { text: label }),
        );
      }),
    ),
  );
}

els.days.addEventListener("change", () => void load());
void load();
