/**
 * A tiny software raster for the sim generator: flat shapes described as "is this point inside"
 * tests on a unit square, plus a 3×5 bitmap font. Crude on purpose; the picture only has to make
 * the embedded scene visible to a person looking at it.
 */
import type { Shape } from "./lexicon.ts";
import type { Box } from "./rendered-scene.ts";

export type Rgb = readonly [number, number, number];
type Inside = (u: number, v: number) => boolean;
type Part = readonly [Inside, Rgb];

export class Canvas {
  readonly rgba: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb,
  ) {
    this.rgba = new Uint8Array(width * height * 4);
    this.rgba.set([background[0], background[1], background[2], 255]);
    // Doubling copies fill the canvas in ~20 native copies instead of a JS loop per pixel;
    // the loop was most of the sim generator's CPU time.
    for (let filled = 4; filled < this.rgba.length; filled *= 2) {
      this.rgba.copyWithin(filled, 0, Math.min(filled, this.rgba.length - filled));
    }
  }

  /** Paints every pixel of `box` whose centre, mapped to the unit square, passes `inside`. */
  fill(box: Box, inside: Inside, colour: Rgb): void {
    const x0 = Math.max(0, Math.floor(box.x));
    const y0 = Math.max(0, Math.floor(box.y));
    const x1 = Math.min(this.width, Math.ceil(box.x + box.w));
    const y1 = Math.min(this.height, Math.ceil(box.y + box.h));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (!inside((x + 0.5 - box.x) / box.w, (y + 0.5 - box.y) / box.h)) continue;
        const o = (y * this.width + x) * 4;
        this.rgba[o] = colour[0];
        this.rgba[o + 1] = colour[1];
        this.rgba[o + 2] = colour[2];
      }
    }
  }

  fillRect(box: Box, colour: Rgb): void {
    this.fill(box, () => true, colour);
  }

  /** Draws text in the 3×5 font, each font pixel `scale` canvas pixels wide. */
  drawText(text: string, x: number, y: number, scale: number, colour: Rgb): void {
    let cursor = x;
    for (const char of text.toUpperCase()) {
      const rows = GLYPHS[char] ?? UNKNOWN_GLYPH;
      rows.forEach((row, gy) => {
        for (let gx = 0; gx < 3; gx++) {
          if (row[gx] === "1") this.fillRect({ x: cursor + gx * scale, y: y + gy * scale, w: scale, h: scale }, colour);
        }
      });
      cursor += 4 * scale;
    }
  }
}

export const textWidth = (text: string, scale: number) => Math.max(0, text.length * 4 - 1) * scale;
export const TEXT_HEIGHT = 5;

const rect =
  (x0: number, y0: number, x1: number, y1: number): Inside =>
  (u, v) =>
    u >= x0 && u <= x1 && v >= y0 && v <= y1;

const ellipse =
  (cx: number, cy: number, rx: number, ry: number): Inside =>
  (u, v) =>
    ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1;

function ring(cx: number, cy: number, rx: number, ry: number): Inside {
  const outer = ellipse(cx, cy, rx, ry);
  const inner = ellipse(cx, cy, rx / 2, ry / 2);
  return (u, v) => outer(u, v) && !inner(u, v);
}

function polygon(points: ReadonlyArray<readonly [number, number]>): Inside {
  return (u, v) => {
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i]!;
      const [xj, yj] = points[j]!;
      if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

const starPoints = Array.from({ length: 10 }, (_, i) => {
  const angle = -Math.PI / 2 + (i * Math.PI) / 5;
  const radius = i % 2 === 0 ? 0.5 : 0.2;
  return [0.5 + radius * Math.cos(angle), 0.52 + radius * Math.sin(angle)] as const;
});

const heart: Inside = (u, v) => {
  const x = (u - 0.5) * 2.4;
  const y = (0.42 - v) * 2.4;
  return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0;
};

const darker = (c: Rgb, f = 0.55): Rgb => [Math.round(c[0] * f), Math.round(c[1] * f), Math.round(c[2] * f)];
const BLACK: Rgb = [25, 25, 25];
const TRUNK: Rgb = [110, 70, 35];
const STEM: Rgb = [50, 130, 50];
const CENTRE: Rgb = [245, 200, 40];

/** The parts of each shape, back to front; the object's colour goes on its main part. */
function partsOf(shape: Shape, c: Rgb): Part[] {
  switch (shape) {
    case "square":
      return [[rect(0, 0, 1, 1), c]];
    case "circle":
      return [[ellipse(0.5, 0.5, 0.5, 0.5), c]];
    case "triangle":
      return [[polygon([[0.5, 0], [1, 1], [0, 1]]), c]];
    case "column":
      return [
        [rect(0.2, 0.1, 0.8, 0.92), c],
        [ellipse(0.5, 0.92, 0.3, 0.08), c],
        [ellipse(0.5, 0.1, 0.3, 0.08), darker(c, 0.8)],
      ];
    case "star":
      return [[polygon(starPoints), c]];
    case "heart":
      return [[heart, c]];
    case "cat":
      return [
        [polygon([[0.12, 0.05], [0.42, 0.35], [0.1, 0.45]]), c],
        [polygon([[0.88, 0.05], [0.58, 0.35], [0.9, 0.45]]), c],
        [ellipse(0.5, 0.62, 0.42, 0.38), c],
      ];
    case "dog":
      return [
        [rect(0.15, 0.7, 0.25, 1), c],
        [rect(0.6, 0.7, 0.7, 1), c],
        [ellipse(0.42, 0.6, 0.4, 0.22), c],
        [ellipse(0.78, 0.32, 0.2, 0.2), c],
      ];
    case "tree":
      return [[rect(0.42, 0.65, 0.58, 1), TRUNK], [polygon([[0.5, 0], [0.95, 0.72], [0.05, 0.72]]), c]];
    case "house":
      return [
        [rect(0.12, 0.45, 0.88, 1), c],
        [polygon([[0.5, 0.05], [1, 0.47], [0, 0.47]]), darker(c, 0.7)],
        [rect(0.42, 0.7, 0.58, 1), darker(c)],
      ];
    case "car":
      return [
        [rect(0.22, 0.18, 0.72, 0.45), darker(c, 0.85)],
        [rect(0, 0.42, 1, 0.78), c],
        [ellipse(0.22, 0.8, 0.13, 0.13), BLACK],
        [ellipse(0.78, 0.8, 0.13, 0.13), BLACK],
      ];
    case "bird":
      return [
        [ellipse(0.45, 0.58, 0.38, 0.26), c],
        [ellipse(0.78, 0.38, 0.16, 0.16), c],
        [polygon([[0.9, 0.34], [1, 0.4], [0.9, 0.44]]), CENTRE],
        [polygon([[0.2, 0.5], [0.5, 0.5], [0.3, 0.2]]), darker(c)],
      ];
    case "flower":
      return [
        [rect(0.47, 0.5, 0.53, 1), STEM],
        ...[0, 1, 2, 3, 4].map((i): Part => {
          const angle = -Math.PI / 2 + (i * 2 * Math.PI) / 5;
          return [ellipse(0.5 + 0.2 * Math.cos(angle), 0.35 + 0.2 * Math.sin(angle), 0.15, 0.15), c];
        }),
        [ellipse(0.5, 0.35, 0.1, 0.1), CENTRE],
      ];
    case "cup":
      return [[ring(0.82, 0.5, 0.16, 0.2), c], [polygon([[0.1, 0.2], [0.78, 0.2], [0.68, 1], [0.2, 1]]), c]];
    case "book":
      return [[rect(0.15, 0.05, 0.85, 0.95), c], [rect(0.15, 0.05, 0.27, 0.95), darker(c)]];
    case "plaque":
      return [[rect(0.45, 0.6, 0.55, 1), TRUNK], [rect(0, 0, 1, 0.65), c]];
    case "label":
      // The noun is written on it by the caller; the corner cut-outs say "not a known shape".
      return [[polygon([[0.12, 0], [0.88, 0], [1, 0.12], [1, 0.88], [0.88, 1], [0.12, 1], [0, 0.88], [0, 0.12]]), c]];
  }
}

/** Draws a shape with a dark outline so light colours stay visible on the light background. */
export function drawShape(canvas: Canvas, shape: Shape, box: Box, colour: Rgb): void {
  const outline = Math.max(1, Math.round(Math.min(box.w, box.h) / 40));
  const grown = { x: box.x - outline, y: box.y - outline, w: box.w + 2 * outline, h: box.h + 2 * outline };
  for (const [inside, partColour] of partsOf(shape, colour)) {
    canvas.fill(grown, inside, darker(partColour, 0.4));
    canvas.fill(box, inside, partColour);
  }
}

const UNKNOWN_GLYPH = ["111", "111", "111", "111", "111"];

// The font is the project's own 3×5 design; each string is one row, "1" marks an ink pixel.
const GLYPHS: Record<string, readonly string[]> = {
  A: ["010", "101", "111", "101", "101"],
  B: ["110", "101", "110", "101", "110"],
  C: ["011", "100", "100", "100", "011"],
  D: ["110", "101", "101", "101", "110"],
  E: ["111", "100", "110", "100", "111"],
  F: ["111", "100", "110", "100", "100"],
  G: ["011", "100", "101", "101", "011"],
  H: ["101", "101", "111", "101", "101"],
  I: ["111", "010", "010", "010", "111"],
  J: ["001", "001", "001", "101", "010"],
  K: ["101", "101", "110", "101", "101"],
  L: ["100", "100", "100", "100", "111"],
  M: ["101", "111", "111", "101", "101"],
  N: ["110", "101", "101", "101", "101"],
  O: ["010", "101", "101", "101", "010"],
  P: ["110", "101", "110", "100", "100"],
  Q: ["010", "101", "101", "110", "011"],
  R: ["110", "101", "110", "101", "101"],
  S: ["011", "100", "010", "001", "110"],
  T: ["111", "010", "010", "010", "010"],
  U: ["101", "101", "101", "101", "111"],
  V: ["101", "101", "101", "101", "010"],
  W: ["101", "101", "111", "111", "101"],
  X: ["101", "101", "010", "101", "101"],
  Y: ["101", "101", "010", "010", "010"],
  Z: ["111", "001", "010", "100", "111"],
  "0": ["111", "101", "101", "101", "111"],
  "1": ["010", "110", "010", "010", "111"],
  "2": ["110", "001", "010", "100", "111"],
  "3": ["110", "001", "010", "001", "110"],
  "4": ["101", "101", "111", "001", "001"],
  "5": ["111", "100", "110", "001", "110"],
  "6": ["011", "100", "111", "101", "111"],
  "7": ["111", "001", "010", "010", "010"],
  "8": ["111", "101", "111", "101", "111"],
  "9": ["111", "101", "111", "001", "110"],
  " ": ["000", "000", "000", "000", "000"],
  "!": ["010", "010", "010", "000", "010"],
  "?": ["110", "001", "010", "000", "010"],
  ".": ["000", "000", "000", "000", "010"],
  ",": ["000", "000", "000", "010", "100"],
  "-": ["000", "000", "111", "000", "000"],
  "'": ["010", "010", "000", "000", "000"],
  ":": ["000", "010", "000", "010", "000"],
};
