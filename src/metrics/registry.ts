/**
 * A tiny Prometheus registry rendering the text exposition format (0.0.4):
 * labelled counters, histograms with fixed buckets, and gauges computed at
 * scrape time (from the store) instead of kept up to date on every write.
 */
export type Labels = Record<string, string>;
export type Sample = { labels: Labels; value: number };

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** Sample lines (without HELP/TYPE), computed at scrape. */
  lines(): Promise<string[]> | string[];
}

/** Escapes a label value: backslash, double quote and newline, per the exposition format. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/**
 * One key per label set: the values in the family's label order, each after
 * its length, so that no value can run into the next. Counters and
 * histograms are updated on every attempt: a loop of concatenations keeps
 * that cheap, to run and for the JIT to compile.
 */
function keyOf(names: readonly string[], labels: Labels): string {
  let key = "";
  for (let i = 0; i < names.length; i++) {
    const v = labels[names[i]!] ?? "";
    key += `${v.length}:${v}`;
  }
  return key;
}
const pick = (names: readonly string[], labels: Labels): Labels => Object.fromEntries(names.map((n) => [n, labels[n] ?? ""]));

/** A counter with fixed label names. */
export class Counter {
  readonly #values = new Map<string, Sample>();
  constructor(readonly labelNames: readonly string[]) {}

  /** Adds `by` (default 1) to the series for `labels`. */
  inc(labels: Labels, by = 1): void {
    const key = keyOf(this.labelNames, labels);
    const s = this.#values.get(key);
    if (s) s.value += by;
    else this.#values.set(key, { labels: pick(this.labelNames, labels), value: by });
  }

  /** The current value for `labels` (0 when never incremented). */
  get(labels: Labels): number {
    return this.#values.get(keyOf(this.labelNames, labels))?.value ?? 0;
  }

  /** Current samples. */
  samples(): Sample[] {
    return [...this.#values.values()];
  }
}

/** A histogram with fixed upper bounds (the +Inf bucket is implied). */
export class Histogram {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const key = keyOf(this.labelNames, labels);
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels: pick(this.labelNames, labels), counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    // Buckets ascend: every one from the first that holds the value counts it (they are cumulative).
    const { buckets } = this;
    for (let i = buckets.length - 1; i >= 0 && value <= buckets[i]!; i--) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Exposition lines: cumulative buckets, then _sum and _count, per series. */
  lines(name: string): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((le, i) => out.push(`${name}_bucket${labelText({ ...s.labels, le: formatValue(le) })} ${s.counts[i]}`));
      out.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
      out.push(`${name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

/** Families in registration order, rendered on demand. */
export class Registry {
  readonly #families: Family[] = [];

  /** Registers and returns a counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const c = new Counter(labelNames);
    this.#families.push({ name, help, type: "counter", lines: () => sampleLines(name, c.samples()) });
    return c;
  }

  /** Registers and returns a histogram. */
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    const h = new Histogram(labelNames, buckets);
    this.#families.push({ name, help, type: "histogram", lines: () => h.lines(name) });
    return h;
  }

  /** Registers a counter the process keeps itself (CPU time), read at each scrape. */
  counterOf(name: string, help: string, read: () => number): void {
    this.#families.push({ name, help, type: "counter", lines: () => sampleLines(name, [{ labels: {}, value: read() }]) });
  }

  /** Registers a gauge whose samples `collect` computes at each scrape. */
  gauge(name: string, help: string, collect: () => Promise<Sample[]> | Sample[]): void {
    // A gauge read from the store has no sample while the store cannot answer (a database away):
    // the scrape still gets every counter, which is when they matter most.
    const samples = async () => {
      try {
        return await collect();
      } catch {
        return [];
      }
    };
    this.#families.push({ name, help, type: "gauge", lines: async () => sampleLines(name, await samples()) });
  }

  /** The whole registry in the Prometheus text format. */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...(await f.lines()));
    }
    return out.join("\n") + "\n";
  }
}

function sampleLines(name: string, samples: Sample[]): string[] {
  return samples.map((s) => `${name}${labelText(s.labels)} ${formatValue(s.value)}`);
}

/** Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
