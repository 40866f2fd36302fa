import { systemClock, type Clock } from '../../core/clock.js'
import type { Caller } from '../deps.js'
import { detectCanaries, type CanaryAlert, type CanaryContext } from './canary.js'
import { type Counter, type CounterSeries, type HistogramSeries, MetricsRegistry } from './metrics.js'
import { WebhookSender, type WebhookOptions } from './webhooks.js'

/** What the API layer reports about one request once its outcome is known. */
export interface FinishedRequest {
  requestId: string
  method: string | undefined
  /** `X-Amz-Target` as received. */
  target: string | undefined
  /** Set once the request authenticated; its trace lists the keys it resolved. */
  caller: Caller | undefined
  /** The request body as parsed (JSON object or query form fields); read only for encryption contexts. */
  input: Readonly<Record<string, unknown>> | undefined
  /** The AWS exception name when the request failed with a known one. */
  errorCode: string | undefined
  /** HTTP status sent. */
  status: number
  /** How long the request took, in seconds. */
  seconds: number
}

/** Options of {@link RequestObserver}. */
export interface ObserverOptions {
  /** The operations the server answers; they, and nothing a client sends, become label values. */
  operationNames: readonly string[]
  /** Encryption-context pairs whose presence in any request raises a canary alert. */
  canaryContexts?: readonly CanaryContext[]
  /** Where canary alerts are posted; none by default. */
  webhooks?: Omit<WebhookOptions, 'log' | 'onResult'>
  /** Receives the JSON log lines (alerts at error level). Default: stderr. */
  log?: (line: string) => void
  clock?: Clock
}

/** Counters and latency of one operation, created once so that a request only increments fields. */
interface OperationStats {
  readonly name: string
  readonly ok: CounterSeries
  readonly latency: HistogramSeries
  readonly errors: Map<string, CounterSeries>
}

const KMS_TARGET_PREFIX = 'TrentService.'

/**
 * Watches every request after its outcome is known: request counts and latency per operation,
 * canary detection (canary keys by tag, configured canary context values), alert log lines and
 * webhook posts. Its registry is the node's `/metrics`. Nothing here can fail a request: the API
 * layer calls {@link requestEnded} after the response is sent, and errors in here are logged.
 */
export class RequestObserver {
  /** The node's metric families; other modules register theirs here. */
  readonly metrics = new MetricsRegistry()
  readonly #requests: Counter
  readonly #byTarget = new Map<string, OperationStats>()
  readonly #other: OperationStats
  readonly #query: OperationStats
  /** Context key → canary values: the configured pairs and those marked in the store. */
  #contexts = new Map<string, Set<string>>()
  readonly #configured: readonly CanaryContext[]
  readonly #alerts: Counter
  readonly #webhooks: WebhookSender | undefined
  readonly #log: (line: string) => void
  readonly #clock: Clock

  constructor(options: ObserverOptions) {
    this.#log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
    this.#clock = options.clock ?? systemClock
    const requests = this.metrics.counter('trent_requests_total', 'Requests by operation and outcome (ok or error, with the AWS error code).', ['operation', 'outcome', 'error_code'])
    const latency = this.metrics.histogram('trent_request_duration_seconds', 'Request latency by operation, from arrival to response sent.', ['operation'])
    this.#requests = requests
    const stats = (name: string): OperationStats => ({ name, ok: requests.labels(name, 'ok', ''), latency: latency.labels(name), errors: new Map() })
    for (const name of options.operationNames) this.#byTarget.set(KMS_TARGET_PREFIX + name, stats(name))
    this.#other = stats('Unknown')
    this.#query = stats('IamStsQuery')

    this.#alerts = this.metrics.counter('trent_canary_alerts_total', 'Canary alerts raised (canary key used, canary encryption context seen).', ['type', 'operation', 'outcome'])
    this.#configured = options.canaryContexts ?? []
    this.setStoredCanaryContexts([])

    const delivered = this.metrics.counter('trent_canary_webhook_deliveries_total', 'Canary alerts delivered to a webhook.').labels()
    const failed = this.metrics.counter('trent_canary_webhook_failures_total', 'Canary alert deliveries abandoned after every retry failed.').labels()
    const dropped = this.metrics.counter('trent_canary_webhook_dropped_total', 'Canary alert deliveries dropped because the webhook queue was full.').labels()
    const urls = options.webhooks?.urls ?? []
    if (urls.length > 0) {
      const sender = new WebhookSender({
        ...options.webhooks,
        urls,
        log: (message) => this.#emit('warn', message, {}),
        onResult: (result) => (result === 'delivered' ? delivered : result === 'failed' ? failed : dropped).inc(),
      })
      this.#webhooks = sender
      this.metrics.gauge('trent_canary_webhook_queue_depth', 'Canary alert deliveries queued, in flight or waiting to retry.', () => sender.queued)
    }
  }

  /** Records one finished request; raises its canary alerts. Never throws. */
  requestEnded(outcome: FinishedRequest): void {
    // Health checks and metric scrapes are not API requests.
    if (outcome.method === 'GET') return
    try {
      const target = outcome.target
      const op = target === undefined ? this.#query : (this.#byTarget.get(target) ?? this.#other)
      op.latency.observe(outcome.seconds)
      if (outcome.status < 400) op.ok.inc()
      else this.#errorSeries(op, outcome.errorCode ?? 'Unknown').inc()
      if (outcome.caller !== undefined) this.#canaries(op.name, outcome, outcome.caller)
    } catch (e) {
      this.#emit('error', `request observer failed: ${e instanceof Error ? e.message : String(e)}`, { requestId: outcome.requestId })
    }
  }

  /** Replaces the canary context pairs marked in the store (`trent admin canary add-context`); configured ones stay. */
  setStoredCanaryContexts(stored: readonly CanaryContext[]): void {
    const contexts = new Map<string, Set<string>>()
    for (const c of [...this.#configured, ...stored]) {
      let values = contexts.get(c.key)
      if (!values) contexts.set(c.key, (values = new Set()))
      values.add(c.value)
    }
    this.#contexts = contexts
  }

  /** Stops webhook deliveries; those still pending are abandoned (the log line is the record). */
  close(): void {
    this.#webhooks?.close()
  }

  /** Error codes are a closed set (AWS exception names), so their series are kept once made. */
  #errorSeries(op: OperationStats, code: string): CounterSeries {
    let s = op.errors.get(code)
    if (!s) op.errors.set(code, (s = this.#requests.labels(op.name, 'error', code)))
    return s
  }

  #canaries(operation: string, outcome: FinishedRequest, caller: Caller): void {
    const alerts = detectCanaries({ operation, requestId: outcome.requestId, caller, input: outcome.input, errorCode: outcome.errorCode }, this.#contexts, () => new Date(this.#clock.now()))
    for (const alert of alerts) this.#raise(alert)
  }

  #raise(alert: CanaryAlert): void {
    this.#alerts.labels(alert.type, alert.operation, alert.outcome).inc()
    this.#emit('error', 'canary alert', alert)
    this.#webhooks?.send({ source: 'trent', ...alert })
  }

  #emit(level: 'error' | 'warn', msg: string, fields: object): void {
    this.#log(JSON.stringify({ level, time: new Date(this.#clock.now()).toISOString(), msg, ...fields }))
  }
}
