/**
 * Just enough of the Prometheus text exposition format (version 0.0.4) for the studio's few
 * metrics; a client library would be the only dependency of this folder for ~60 lines.
 */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`;
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/** One metric family: HELP, TYPE and its samples. */
export function family(name: string, type: "gauge" | "counter", help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const sample of samples) lines.push(`${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  return `${lines.join("\n")}\n`;
}

export interface HistogramSeries {
  labels: Labels;
  /** Cumulative counts, one per bound. */
  buckets: readonly number[];
  sum: number;
  count: number;
}

/** A histogram family from series that were counted elsewhere (the job service counts model calls). */
export function histogramFamily(name: string, help: string, bounds: readonly number[], series: readonly HistogramSeries[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const { labels, buckets, sum, count } of series) {
    bounds.forEach((bound, i) => {
      lines.push(`${name}_bucket${formatLabels({ ...labels, le: formatValue(bound) })} ${buckets[i] ?? 0}`);
    });
    lines.push(`${name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
    lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
    lines.push(`${name}_count${formatLabels(labels)} ${count}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Adds constant labels to every sample line of a rendered family (HELP and TYPE lines stay). */
export function labelSamples(text: string, labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return text;
  const extra = entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",");
  return text
    .split("\n")
    .map((line) => {
      if (line === "" || line.startsWith("#")) return line;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (.*)$/.exec(line);
      if (!match) return line;
      const [, name, , inner, value] = match;
      return `${name}{${inner ? `${extra},${inner}` : extra}} ${value}`;
    })
    .join("\n");
}
