/**
 * Style words change the whole sim picture, the way a medium changes a real one, so a style
 * requirement is something the generator can get right or wrong and a skill can help with. The
 * effects are crude on purpose; what was applied is recorded in the scene's `styles`.
 */
import type { Rgb } from "./raster.ts";

/** The background each style paints on; styles without one keep the default paper. */
export const STYLE_BACKGROUNDS: Record<string, Rgb> = {
  neon: [22, 20, 40],
  vintage: [226, 206, 170],
  sketch: [252, 252, 250],
  watercolor: [246, 240, 228],
  minimalist: [255, 255, 255],
  "pixel art": [200, 220, 240],
};

type Pixels = { rgba: Uint8Array; width: number; height: number };

/** Applies each style's effect in turn, in the order the request named them. */
export function applyStyles(pixels: Pixels, styles: readonly string[], background: Rgb): void {
  for (const style of styles) EFFECTS[style]?.(pixels, background);
}

const EFFECTS: Record<string, (pixels: Pixels, background: Rgb) => void> = {
  watercolor: (p, paper) => {
    blur(p, Math.max(1, Math.round(Math.min(p.width, p.height) / 100)));
    mapPixels(p, (r, g, b) => [mix(r, paper[0], 0.35), mix(g, paper[1], 0.35), mix(b, paper[2], 0.35)]);
  },
  "pixel art": (p) => pixelate(p, Math.max(4, Math.round(Math.min(p.width, p.height) / 32))),
  sketch: (p, paper) => {
    const edges = edgeMap(p);
    mapPixels(p, (_r, _g, _b, i) => (edges[i] ? [60, 60, 60] : [paper[0], paper[1], paper[2]]));
  },
  neon: (p, dark) => {
    const edges = edgeMap(p);
    mapPixels(p, (r, g, b, i) => (edges[i] ? [glow(r), glow(g), glow(b)] : [mix(r, dark[0], 0.8), mix(g, dark[1], 0.8), mix(b, dark[2], 0.8)]));
  },
  cartoon: (p) => {
    const edges = edgeMap(p);
    mapPixels(p, (r, g, b, i) => (edges[i] ? [15, 15, 15] : [step(r), step(g), step(b)]));
  },
  photorealistic: (p) => {
    // Light from the top left and a vignette: the flat shapes get shading, as in a photo.
    mapPixels(p, (r, g, b, i) => {
      const x = (i % p.width) / p.width - 0.5;
      const y = Math.floor(i / p.width) / p.height - 0.5;
      const light = 1.1 - 0.35 * Math.hypot(x, y) - 0.15 * (x + y);
      return [shade(r, light), shade(g, light), shade(b, light)];
    });
  },
  vintage: (p) =>
    mapPixels(p, (r, g, b) => [
      clamp(0.393 * r + 0.769 * g + 0.189 * b),
      clamp(0.349 * r + 0.686 * g + 0.168 * b),
      clamp(0.272 * r + 0.534 * g + 0.131 * b),
    ]),
};

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
const mix = (v: number, towards: number, amount: number) => clamp(v + (towards - v) * amount);
const glow = (v: number) => clamp(v * 1.4 + 60);
const step = (v: number) => clamp(Math.round(v / 64) * 64);
const shade = (v: number, light: number) => clamp(v * light);

function mapPixels(p: Pixels, f: (r: number, g: number, b: number, index: number) => readonly [number, number, number]): void {
  for (let i = 0, o = 0; o < p.rgba.length; i++, o += 4) {
    const [r, g, b] = f(p.rgba[o]!, p.rgba[o + 1]!, p.rgba[o + 2]!, i);
    p.rgba[o] = r;
    p.rgba[o + 1] = g;
    p.rgba[o + 2] = b;
  }
}

/** True where a pixel differs clearly from its right or lower neighbour: the outlines of shapes. */
function edgeMap(p: Pixels): Uint8Array {
  const edges = new Uint8Array(p.width * p.height);
  const differs = (a: number, b: number) =>
    Math.abs(p.rgba[a]! - p.rgba[b]!) + Math.abs(p.rgba[a + 1]! - p.rgba[b + 1]!) + Math.abs(p.rgba[a + 2]! - p.rgba[b + 2]!) > 60;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const o = (y * p.width + x) * 4;
      if ((x + 1 < p.width && differs(o, o + 4)) || (y + 1 < p.height && differs(o, o + p.width * 4))) edges[y * p.width + x] = 1;
    }
  }
  return edges;
}

/** Each block takes the colour at its centre. */
function pixelate(p: Pixels, size: number): void {
  for (let by = 0; by < p.height; by += size) {
    for (let bx = 0; bx < p.width; bx += size) {
      const cy = Math.min(p.height - 1, by + (size >> 1));
      const cx = Math.min(p.width - 1, bx + (size >> 1));
      const c = (cy * p.width + cx) * 4;
      const colour = [p.rgba[c]!, p.rgba[c + 1]!, p.rgba[c + 2]!];
      for (let y = by; y < Math.min(p.height, by + size); y++) {
        for (let x = bx; x < Math.min(p.width, bx + size); x++) p.rgba.set(colour, (y * p.width + x) * 4);
      }
    }
  }
}

/** A box blur, horizontal then vertical, so colours bleed into each other like wet paint. */
function blur(p: Pixels, radius: number): void {
  const pass = (horizontal: boolean) => {
    const source = p.rgba.slice();
    const [outer, inner] = horizontal ? [p.height, p.width] : [p.width, p.height];
    for (let a = 0; a < outer; a++) {
      for (let b = 0; b < inner; b++) {
        let [red, green, blue, n] = [0, 0, 0, 0];
        for (let d = -radius; d <= radius; d++) {
          const k = b + d;
          if (k < 0 || k >= inner) continue;
          const o = (horizontal ? a * p.width + k : k * p.width + a) * 4;
          red += source[o]!;
          green += source[o + 1]!;
          blue += source[o + 2]!;
          n++;
        }
        const o = (horizontal ? a * p.width + b : b * p.width + a) * 4;
        p.rgba[o] = Math.round(red / n);
        p.rgba[o + 1] = Math.round(green / n);
        p.rgba[o + 2] = Math.round(blue / n);
      }
    }
  };
  pass(true);
  pass(false);
}
