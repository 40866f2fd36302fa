/**
 * A small Prometheus registry with the text exposition format 0.0.4 written by hand (no
 * dependency). Series are created once and held by their users, so recording a value on the
 * request path is a field increment: no label formatting, no map lookup by joined strings.
 */

/** Content type of {@link MetricsRegistry.render}'s output. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Escapes a label value as the exposition format requires: backslash, double quote, newline. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value
}

/** Escapes HELP text: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))
}

/** `{a="x",b="y"}` for parallel name and value lists; empty for no labels. */
function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return ''
  return `{${names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`).join(',')}}`
}

/** Prometheus' float formatting: +Inf, -Inf, NaN, else the shortest round-trip decimal. */
function formatValue(v: number): string {
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** One counter series: a monotonically increasing number. */
export interface CounterSeries {
  inc(by?: number): void
  readonly value: number
}

/** One histogram series. */
export interface HistogramSeries {
  observe(value: number): void
}

interface Family {
  readonly name: string
  render(out: string[]): void
}

class CounterChild implements CounterSeries {
  readonly labels: string
  value = 0
  constructor(labels: string) {
    this.labels = labels
  }
  inc(by = 1): void {
    this.value += by
  }
}

/** A family of series told apart by label values; each series is created on first use and kept. */
abstract class Labelled<S> implements Family {
  readonly name: string
  protected readonly help: string
  protected readonly labelNames: readonly string[]
  protected readonly series = new Map<string, S>()

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name
    this.help = help
    this.labelNames = labelNames
  }

  protected abstract create(values: readonly string[]): S
  abstract render(out: string[]): void

  protected seriesOf(values: readonly string[]): S {
    const id = values.join('\u0000')
    let s = this.series.get(id)
    if (!s) {
      if (values.length !== this.labelNames.length) throw new TypeError(`${this.name} takes ${this.labelNames.length} label values`)
      s = this.create(values)
      this.series.set(id, s)
    }
    return s
  }
}

/** A counter family; {@link labels} returns (and keeps) the series of one label combination. */
export class Counter extends Labelled<CounterChild> {
  /** The series for these label values (in the order of the family's label names). Hold on to it. */
  labels(...values: string[]): CounterSeries {
    return this.seriesOf(values)
  }

  protected create(values: readonly string[]): CounterChild {
    return new CounterChild(labelText(this.labelNames, values))
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`)
    for (const s of this.series.values()) out.push(`${this.name}${s.labels} ${formatValue(s.value)}`)
  }
}

class HistogramChild implements HistogramSeries {
  readonly labels: readonly string[]
  readonly #bounds: readonly number[]
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor(bounds: readonly number[], labels: readonly string[]) {
    this.#bounds = bounds
    this.labels = labels
    this.counts = new Float64Array(bounds.length + 1)
  }
  observe(value: number): void {
    const b = this.#bounds
    let i = 0
    while (i < b.length && value > b[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

/** Latency buckets in seconds: from 0.5 ms (a cached Encrypt) to 10 s (a stalled store). */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A histogram family with fixed upper bounds; rendered with cumulative buckets as Prometheus wants. */
export class Histogram extends Labelled<HistogramChild> {
  readonly #bounds: readonly number[]

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames)
    if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw new TypeError(`${name}: buckets must increase`)
    this.#bounds = bounds
  }

  /** The series for these label values. Hold on to it. */
  labels(...values: string[]): HistogramSeries {
    return this.seriesOf(values)
  }

  protected create(values: readonly string[]): HistogramChild {
    return new HistogramChild(this.#bounds, values)
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`)
    const names = [...this.labelNames, 'le']
    for (const s of this.series.values()) {
      let cumulative = 0
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += s.counts[i]!
        const le = i < this.#bounds.length ? formatValue(this.#bounds[i]!) : '+Inf'
        out.push(`${this.name}_bucket${labelText(names, [...s.labels, le])} ${cumulative}`)
      }
      const plain = labelText(this.labelNames, s.labels)
      out.push(`${this.name}_sum${plain} ${formatValue(s.sum)}`, `${this.name}_count${plain} ${s.count}`)
    }
  }
}

/** A gauge whose value is read from its owner when scraped. */
class CallbackGauge implements Family {
  readonly name: string
  readonly #help: string
  readonly #read: () => number
  constructor(name: string, help: string, read: () => number) {
    this.name = name
    this.#help = help
    this.#read = read
  }
  render(out: string[]): void {
    let v: number
    try {
      v = this.#read()
    } catch {
      // A failing reader must not take the whole scrape down.
      v = NaN
    }
    out.push(`# HELP ${this.name} ${escapeHelp(this.#help)}`, `# TYPE ${this.name} gauge`, `${this.name} ${formatValue(v)}`)
  }
}

/**
 * The metric families of one Trent node. Other modules add theirs through {@link counter},
 * {@link histogram} and {@link gauge} (e.g. the audit trail's `trent_audit_queue_depth`); a family
 * appears in the exposition once it is registered.
 */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>()

  /** Registers a counter family. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, checkLabels(labelNames)))
  }

  /** Registers a histogram family with these bucket upper bounds. */
  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[] = LATENCY_BUCKETS): Histogram {
    return this.#add(new Histogram(name, help, checkLabels([...labelNames, 'le']).slice(0, -1), bounds))
  }

  /** Registers a gauge that reads its value from `read` at each scrape. */
  gauge(name: string, help: string, read: () => number): void {
    this.#add(new CallbackGauge(name, help, read))
  }

  /** True once a family of this name is registered. */
  has(name: string): boolean {
    return this.#families.has(name)
  }

  /** The exposition text of every family, in registration order. */
  render(): string {
    const out: string[] = []
    for (const f of this.#families.values()) f.render(out)
    return `${out.join('\n')}\n`
  }

  #add<F extends Family>(family: F): F {
    if (!NAME.test(family.name)) throw new TypeError(`invalid metric name ${family.name}`)
    if (this.#families.has(family.name)) throw new TypeError(`metric ${family.name} is already registered`)
    this.#families.set(family.name, family)
    return family
  }
}

function checkLabels(names: readonly string[]): readonly string[] {
  for (const n of names) if (!LABEL.test(n) || n.startsWith('__')) throw new TypeError(`invalid label name ${n}`)
  if (new Set(names).size !== names.length) throw new TypeError('duplicate label name')
  return names
}
