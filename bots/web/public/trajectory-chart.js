// How the pass count moved: one point per verified iteration, with the checklist's size as a
// dashed line because feedback can add or retire questions between iterations.
import { svg } from "./dom.js";

const WIDTH = 320;
const HEIGHT = 120;
const PAD = { left: 28, right: 12, top: 12, bottom: 22 };

export function passChart(points) {
  const maxTotal = Math.max(1, ...points.map((p) => p.total));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (value) => PAD.top + plotH - (value / maxTotal) * plotH;
  const summary = points.map((p) => `iteration ${p.n}: ${p.passed} of ${p.total}`).join("; ");
  const line = (key) => points.map((p, i) => `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");

  return svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": "pass-chart-title", class: "pass-chart" },
    svg("title", { id: "pass-chart-title", text: `Requirements passed per iteration: ${summary}.` }),
    svg("line", { x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0), class: "axis" }),
    svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0), class: "axis" }),
    svg("text", { x: PAD.left - 6, y: y(maxTotal) + 4, class: "tick", "text-anchor": "end", text: String(maxTotal) }),
    svg("text", { x: PAD.left - 6, y: y(0) + 4, class: "tick", "text-anchor": "end", text: "0" }),
    points.length > 1 ? svg("polyline", { points: line("total"), class: "total-line" }) : null,
    points.length > 1 ? svg("polyline", { points: line("passed"), class: "passed-line" }) : null,
    points.map((p, i) => [
      svg("circle", { cx: x(i), cy: y(p.passed), r: 4, class: p.passed === p.total ? "point all" : "point" }, svg("title", { text: `Iteration ${p.n}: ${p.passed} of ${p.total}` })),
      svg("text", { x: x(i), y: HEIGHT - 6, class: "tick", "text-anchor": "middle", text: `#${p.n}` }),
    ]),
  );
}
