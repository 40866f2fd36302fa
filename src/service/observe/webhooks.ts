/** Options of {@link WebhookSender}. */
export interface WebhookOptions {
  urls: readonly string[]
  /** Per-attempt timeout. Default 2 000 ms. */
  timeoutMs?: number
  /** Attempts per delivery, the first included. Default 4. */
  attempts?: number
  /** Wait before the first retry, doubled after each. Default 250 ms. */
  backoffMs?: number
  /** Deliveries waiting or in flight; beyond it new ones are dropped (and counted). Default 1 000. */
  maxQueued?: number
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number
  /** Where delivery failures are reported. */
  log?: (message: string) => void
  /** Called once per delivery that succeeded, failed for good, or was dropped. */
  onResult?: (result: 'delivered' | 'failed' | 'dropped') => void
}

interface Delivery {
  url: string
  body: string
  attempt: number
}

/**
 * Posts JSON documents to webhook URLs off the request path: {@link send} only enqueues. Each
 * delivery has a timeout per attempt and retries with exponential backoff; the queue is bounded,
 * so a dead or hanging receiver costs at most `maxQueued` documents of memory and `concurrency`
 * sockets, never a request's latency.
 */
export class WebhookSender {
  readonly #urls: readonly string[]
  readonly #timeoutMs: number
  readonly #attempts: number
  readonly #backoffMs: number
  readonly #maxQueued: number
  readonly #concurrency: number
  readonly #log: (message: string) => void
  readonly #onResult: (result: 'delivered' | 'failed' | 'dropped') => void
  readonly #ready: Delivery[] = []
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #aborts = new Set<AbortController>()
  /** Deliveries accepted and not yet finished: ready, in flight, or waiting to retry. */
  #pending = 0
  #active = 0
  #closed = false
  #idle: Array<() => void> = []

  constructor(options: WebhookOptions) {
    for (const url of options.urls) {
      const u = new URL(url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`webhook ${url}: expected an http:// or https:// URL`)
    }
    this.#urls = options.urls
    this.#timeoutMs = options.timeoutMs ?? 2000
    this.#attempts = options.attempts ?? 4
    this.#backoffMs = options.backoffMs ?? 250
    this.#maxQueued = options.maxQueued ?? 1000
    this.#concurrency = options.concurrency ?? 4
    this.#log = options.log ?? (() => {})
    this.#onResult = options.onResult ?? (() => {})
  }

  /** Deliveries accepted and not yet finished. */
  get queued(): number {
    return this.#pending
  }

  /** Enqueues `document` for every configured URL; returns at once. */
  send(document: object): void {
    if (this.#closed || this.#urls.length === 0) return
    const body = JSON.stringify(document)
    for (const url of this.#urls) {
      if (this.#pending >= this.#maxQueued) {
        this.#onResult('dropped')
        continue
      }
      this.#pending++
      this.#ready.push({ url, body, attempt: 1 })
    }
    this.#pump()
  }

  /** Resolves once nothing is queued, in flight or waiting to retry (for tests and shutdown). */
  drained(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** Stops: drops what is queued, aborts what is in flight, cancels retries. */
  close(): void {
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const a of this.#aborts) a.abort()
    this.#ready.length = 0
    this.#pending = 0
    for (const wake of this.#idle.splice(0)) wake()
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#concurrency && this.#ready.length > 0) {
      const d = this.#ready.shift()!
      this.#active++
      void this.#attempt(d).finally(() => {
        this.#active--
        this.#pump()
      })
    }
  }

  async #attempt(d: Delivery): Promise<void> {
    const abort = new AbortController()
    this.#aborts.add(abort)
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs)
    let failure: string | undefined
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'trent-canary' },
        body: d.body,
        signal: abort.signal,
        // An alert goes where the operator said, not where a redirect points.
        redirect: 'manual',
      })
      // The body is not needed; reading it frees the connection for reuse.
      await res.arrayBuffer().catch(() => undefined)
      if (!res.ok) failure = `HTTP ${res.status}`
    } catch (e) {
      failure = abort.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : e instanceof Error ? e.message : String(e)
    } finally {
      clearTimeout(timer)
      this.#aborts.delete(abort)
    }
    if (this.#closed) return
    if (failure === undefined) return this.#finish('delivered')
    if (d.attempt >= this.#attempts) {
      this.#log(`canary webhook ${redact(d.url)} failed after ${d.attempt} attempts: ${failure}`)
      return this.#finish('failed')
    }
    const retry = setTimeout(() => {
      this.#timers.delete(retry)
      this.#ready.push({ ...d, attempt: d.attempt + 1 })
      this.#pump()
    }, this.#backoffMs * 2 ** (d.attempt - 1))
    retry.unref()
    this.#timers.add(retry)
  }

  #finish(result: 'delivered' | 'failed'): void {
    this.#pending--
    this.#onResult(result)
    if (this.#pending === 0) for (const wake of this.#idle.splice(0)) wake()
  }
}

/** A webhook URL without credentials or query (which may hold a token), for logs. */
function redact(url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}
