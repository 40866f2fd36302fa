import { randomUUID } from 'node:crypto'
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { createApiServer } from './api/server.js'
import { noopSink, type AuditEvent, type AuditSink } from './audit/event.js'
import { listTrail, PUBLIC_KEY_FILE, readSegment, signatureName } from './audit/format.js'
import { matches, readRecords, type EventFilter } from './audit/query.js'
import { pruneTrail, type PruneResult } from './audit/prune.js'
import { verifyTrail, type VerifyResult } from './audit/verify.js'
import { FileTrail, openDigestSigner } from './audit/trail.js'
import { systemClock, type Clock } from './core/clock.js'
import { runHsmChild } from './hsm/hsm-child.js'
import { listenHsm } from './hsm/hsm-server.js'
import { SupervisedHsm } from './hsm/hsm-supervisor.js'
import { loadOrCreateSealKey } from './hsm/seal.js'
import { SoftwareHsm } from './hsm/software-hsm.js'
import { recordSystemEvent } from './service/audit-record.js'
import { DeletionScheduler } from './service/deletion-scheduler.js'
import type { ServiceDeps } from './service/deps.js'
import type { SystemEventSink } from './service/key-material.js'
import { KeyMaterialScheduler, type KeyMaterialRun } from './service/key-material-scheduler.js'
import { KeyUsageTracker } from './service/key-usage.js'
import { explainAccess, type ExplainQuestion, type Explanation } from './service/explain.js'
import { createAccount } from './service/accounts.js'
import { KmsService, type AccessKeyPair } from './service/kms-service.js'
import type { CanaryContext } from './service/observe/canary.js'
import { followCanaryContexts, listCanaryKeys, markCanary } from './service/observe/canary-admin.js'
import { METRICS_CONTENT_TYPE } from './service/observe/metrics.js'
import { RequestObserver } from './service/observe/observer.js'
import { CachedStore } from './store/cached-store.js'
import { PostgresStore } from './store/postgres/postgres-store.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'
import type { Store } from './store/store.js'

export { parseCanaryContext, type CanaryContext } from './service/observe/canary.js'

/** Everything `trent serve` needs to know. */
export interface TrentConfig {
  host: string
  port: number
  dataDir: string
  /**
   * Where keys and metadata live: a `postgres://` (or `postgresql://`) URL for a database that
   * several nodes may share, or undefined for SQLite in `<dataDir>/trent.db`. The seal key stays in
   * `<dataDir>/seal.key` either way; nodes sharing a database need copies of the same seal key.
   */
  storeUrl?: string
  region: string
  accountId: string
  admin?: AccessKeyPair
  /**
   * How long key metadata, material and alias targets may be served from memory (0: not cached).
   * On PostgreSQL, changes made through other nodes arrive by LISTEN/NOTIFY within milliseconds;
   * the TTL bounds how late one is seen when its notification is lost (e.g. while the LISTEN
   * connection reconnects). Default 1000 ms.
   */
  cacheTtlMs?: number
  /**
   * `off` runs without an audit trail: for measuring what the trail costs only, never in use.
   * Default `on`: every request's record in `<dataDir>/audit/` before its response.
   */
  audit?: 'on' | 'off'
  /** How often the audit trail is sealed by a signed digest. Default one hour. */
  auditDigestIntervalMs?: number
  clock?: Clock
  /** Told of each rotation and material expiry the server performs, after the audit trail recorded it. */
  onSystemEvent?: SystemEventSink
  /**
   * Prometheus metrics, off by default: `'api'` serves `GET /metrics` on the API port; a port
   * (and host, default the API host) serves it on a listener of its own, e.g. an internal address.
   * Either way unauthenticated, as Prometheus scrapes.
   */
  metrics?: 'api' | { port: number; host?: string }
  /** Encryption-context pairs whose presence in a request raises a canary alert. */
  canaryContexts?: CanaryContext[]
  /** URLs that receive every canary alert as a JSON POST. */
  canaryWebhooks?: string[]
}

/** A running Trent front end. */
export interface RunningTrent {
  url: string
  server: Server
  /** Where `GET /metrics` answers, when metrics are on. */
  metricsUrl?: string
  /** Request metrics, canary detection and alert delivery of this node. */
  observer: RequestObserver
  /** Set when first start generated admin credentials into this file. */
  credentialsFile?: string
  /**
   * Admin/test hook: deletes now the keys whose deletion date has passed (by the configured clock),
   * as the periodic deletion job does; resolves to how many this node deleted.
   */
  runDueDeletions(): Promise<number>
  /**
   * Admin/test hook: performs now the automatic rotations and imported-material expiries that are
   * due (by the configured clock), as the periodic key material job does.
   */
  runKeyMaterialJobs(): Promise<KeyMaterialRun>
  /** Stops the deletion job, stops accepting, finishes requests in flight, stops the HSM and closes the store. */
  close(): Promise<void>
}

const CLI = fileURLToPath(new URL('./cli/trent.js', import.meta.url))

/**
 * Starts a Trent node: the store (SQLite in the data dir, or PostgreSQL when `config.storeUrl` is
 * set), the spawned software HSM, and the HTTP front end.
 */
export async function startServer(config: TrentConfig): Promise<RunningTrent> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const clock = config.clock ?? systemClock
  const backend = config.storeUrl === undefined ? openSqlite(config.dataDir) : openPostgres(config.storeUrl)
  const store = new CachedStore(backend, { clock, ...(config.cacheTtlMs === undefined ? {} : { ttlMs: config.cacheTtlMs }) })
  try {
    await store.migrate()
  } catch (e) {
    await store.close()
    if (config.storeUrl === undefined) throw e
    throw new Error(`PostgreSQL store ${redactUrl(config.storeUrl)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
  const hsm = new SupervisedHsm({
    command: process.execPath,
    args: [CLI, 'hsm', '--stdio', '--data-dir', config.dataDir],
    // A respawned HSM starts empty: give it the domain again before it serves.
    onStart: async (h) => {
      const sealed = await store.getSealedDomain()
      if (sealed) await h.loadDomain(sealed)
    },
  })
  const deps: ServiceDeps = { store, hsm, clock, region: config.region, partition: 'aws', keyUsage: new KeyUsageTracker(store) }
  const holder = `${hostname()}/${process.pid}/${randomUUID()}`
  const deletions = new DeletionScheduler({ store, clock, holder, recordEvent: (e) => recordSystemEvent(deps, e) })
  const keyMaterial = new KeyMaterialScheduler({
    store,
    hsm,
    clock,
    holder,
    onSystemEvent: async (e) => {
      await recordSystemEvent(deps, {
        eventName: e.eventName,
        key: { arn: e.keyArn, keyId: e.keyId, accountId: e.accountId },
        serviceEventDetails: { keyId: e.keyId, keyMaterialId: e.keyMaterialId },
      })
      await config.onSystemEvent?.(e)
    },
  })
  let trail: AuditSink | undefined
  const observer = new RequestObserver({
    operationNames: KmsService.operationNames,
    clock,
    ...(config.canaryContexts ? { canaryContexts: config.canaryContexts } : {}),
    ...(config.canaryWebhooks ? { webhooks: { urls: config.canaryWebhooks } } : {}),
  })
  observeHsm(observer, hsm)
  let metricsServer: Server | undefined
  let canaryContexts: { stop(): void } | undefined
  try {
    // With a shared database the HSM loads the domain that another node may have sealed (at
    // start, and again in initialize()): the usual cause of a failure there is a different seal key.
    const withSealHint = (e: unknown): never => {
      if (config.storeUrl === undefined) throw e
      throw new Error(
        `${e instanceof Error ? e.message : String(e)} (nodes sharing a database must share its seal key: ` +
          `copy seal.key from the data dir of the node that initialised the database into ${config.dataDir})`,
        { cause: e },
      )
    }
    await hsm.ready().catch(withSealHint)
    const service = new KmsService(deps)
    const init = await service
      .initialize({ accountId: config.accountId, ...(config.admin ? { admin: config.admin } : {}) })
      .catch(withSealHint)
    // The trail's digests are signed in the HSM, so it opens once the domain is loaded.
    trail = config.audit === 'off' ? noopSink : await openTrail(join(config.dataDir, 'audit'), hsm, clock, config.auditDigestIntervalMs)
    deps.audit = trail
    if (trail instanceof FileTrail) {
      const fileTrail = trail
      observer.metrics.gauge('trent_audit_queue_depth', 'Audit records accepted and not yet written.', () => fileTrail.queueDepth)
    }
    const credentialsFile = init.created ? writeCredentials(config.dataDir, init.created) : undefined
    // Pairs marked with `trent admin canary add-context` (through any node's store) count from the
    // first request, and are read again every second: one small query, whatever the cache TTL.
    canaryContexts = await followCanaryContexts(store, observer, 1000, (m) => process.stderr.write(`${m}\n`))
    // Its first run, before serving, deletes the keys that fell due while the server was down.
    await deletions.start()
    await keyMaterial.start()

    const server = createApiServer(service, { region: config.region, clock, observer, metricsEndpoint: config.metrics === 'api' })
    let metricsUrl: string | undefined
    // The metrics listener first: if the API port then fails, the catch below closes it.
    if (typeof config.metrics === 'object') {
      metricsServer = createServer((req, res) => {
        const text = req.method === 'GET' && req.url === '/metrics' ? observer.metrics.render() : undefined
        res.writeHead(text === undefined ? 404 : 200, { 'content-type': METRICS_CONTENT_TYPE })
        res.end(text ?? 'not found\n')
      })
      metricsUrl = `${await listen(metricsServer, config.metrics.port, config.metrics.host ?? config.host)}/metrics`
    }
    const url = await listen(server, config.port, config.host)
    if (config.metrics === 'api') metricsUrl = `${url}/metrics`
    return {
      url,
      server,
      observer,
      ...(metricsUrl ? { metricsUrl } : {}),
      ...(credentialsFile ? { credentialsFile } : {}),
      runDueDeletions: () => deletions.runOnce(),
      runKeyMaterialJobs: () => keyMaterial.runOnce(),
      async close() {
        await deletions.stop()
        await keyMaterial.stop()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await closed
        await closeQuietly(metricsServer)
        canaryContexts?.stop()
        observer.close()
        await service.close()
        await trail?.close()
        await hsm.close()
        await store.close()
      },
    }
  } catch (e) {
    await closeQuietly(metricsServer)
    canaryContexts?.stop()
    observer.close()
    await deletions.stop()
    await keyMaterial.stop()
    await trail?.close().catch(() => undefined)
    await hsm.close()
    await store.close()
    throw e
  }
}

/** Listens and resolves to the server's base URL. */
async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

function closeQuietly(server: Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/** HSM health on the metrics endpoint: whether a child serves now, and how often it was respawned. */
function observeHsm(observer: RequestObserver, hsm: SupervisedHsm): void {
  observer.metrics.gauge('trent_hsm_up', '1 while the HSM process is ready to serve, else 0.', () => (hsm.isReady ? 1 : 0))
  const respawns = observer.metrics.counter('trent_hsm_respawns_total', 'HSM processes spawned after the first (crash recovery).').labels()
  // Every spawn after an exit is a respawn (the first spawn happens inside the constructor).
  let exited = false
  hsm.on('exit', () => (exited = true))
  hsm.on('spawn', () => {
    if (exited) respawns.inc()
  })
}

async function openTrail(dir: string, hsm: SupervisedHsm, clock: Clock, digestIntervalMs: number | undefined): Promise<FileTrail> {
  // Test hook: while this file exists every trail write fails as on a full disk.
  const failFile = process.env['TRENT_TEST_AUDIT_FAIL_FILE']
  return FileTrail.open({
    dir,
    signer: await openDigestSigner(dir, hsm),
    clock,
    ...(digestIntervalMs !== undefined ? { digestIntervalMs } : {}),
    ...(failFile
      ? {
          beforeWrite: () => {
            if (existsSync(failFile)) throw Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' })
          },
        }
      : {}),
  })
}

function openSqlite(dataDir: string): Store {
  const dbFile = join(dataDir, 'trent.db')
  // SQLite gives its -wal and -shm files the database file's mode: make that private first.
  closeSync(openSync(dbFile, 'a', 0o600))
  chmodSync(dbFile, 0o600)
  return new SqliteStore(new Database(dbFile))
}

/** Longest a request waits for a pooled connection, or a statement runs, before it fails (retryably). */
const PG_TIMEOUT_MS = 10_000

function openPostgres(url: string): Store {
  if (!isPostgresUrl(url)) throw new Error(`unsupported store ${redactUrl(url)}: expected a postgres:// or postgresql:// URL`)
  const connection = {
    connectionString: url,
    // While PostgreSQL is unreachable requests fail after this instead of queueing without end.
    connectionTimeoutMillis: PG_TIMEOUT_MS,
    statement_timeout: PG_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'trent',
  }
  const pool = new pg.Pool({ ...connection, max: 10, idleTimeoutMillis: 30_000 })
  // The store registers the pool's 'error' listener (a dead idle connection must not crash the
  // node), and the LISTEN client's, on a connection of its own that it reopens when it is lost.
  return new PostgresStore(pool, { listenClient: () => new pg.Client({ ...connection, application_name: 'trent-listen' }) })
}

/** True for a URL that names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url)
}

/** `url` without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

function writeCredentials(dataDir: string, pair: AccessKeyPair): string {
  const file = join(dataDir, 'admin-credentials')
  const text = `[trent]\naws_access_key_id = ${pair.accessKeyId}\naws_secret_access_key = ${pair.secretAccessKey}\n`
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  return file
}

/**
 * `trent policy explain`: opens the store of a data dir (or a PostgreSQL URL) read-only in spirit
 * — it writes nothing — and explains one decision. Safe to run next to a serving node.
 */
export async function explainPolicy(where: StoreLocation, question: ExplainQuestion): Promise<Explanation> {
  return withStore(where, (store) => explainAccess({ store, clock: systemClock, partition: 'aws' }, question))
}

/** Where an administrator command finds the store: a data dir's SQLite, or a PostgreSQL URL. */
export interface StoreLocation {
  dataDir: string
  storeUrl?: string
}

/** Runs `work` against the (initialised) store at `where`, and closes it. */
async function withStore<T>(where: StoreLocation, work: (store: Store) => Promise<T>): Promise<T> {
  if (where.storeUrl === undefined && !existsSync(join(where.dataDir, 'trent.db'))) throw new Error(`no Trent data in ${where.dataDir}`)
  const store = where.storeUrl === undefined ? openSqlite(where.dataDir) : openPostgres(where.storeUrl)
  try {
    await store.migrate()
    return await work(store)
  } finally {
    await store.close()
  }
}

/** What `trent admin canary` does. */
export type CanaryCommand =
  | { action: 'add'; key: string; value: string }
  | { action: 'remove'; key: string }
  | { action: 'list'; accountId: string; region: string }
  | { action: 'add-context'; context: CanaryContext }
  | { action: 'remove-context'; context: CanaryContext }
  | { action: 'list-contexts' }

/**
 * `trent admin canary add|remove|list`: marks a key as a canary by its `trent:canary` tag (or
 * removes the mark), straight in the store; or lists the canary keys of an account and region.
 * `add-context|remove-context|list-contexts`: the same for encryption-context pairs, which every
 * node sharing the store alerts on within a second. Returns the lines to print. Safe to run next
 * to serving nodes.
 */
export async function canaryAdmin(where: StoreLocation, command: CanaryCommand): Promise<string[]> {
  return withStore(where, async (store) => {
    if (command.action === 'list') return (await listCanaryKeys(store, command.accountId, command.region)).map((k) => k.arn)
    if (command.action === 'list-contexts') return (await store.listCanaryContexts()).map((c) => `${c.key}=${c.value}`)
    if (command.action === 'add-context' || command.action === 'remove-context') {
      const { key, value } = command.context
      const changed =
        command.action === 'add-context' ? await store.putCanaryContext({ key, value, createdAt: Date.now() }) : await store.deleteCanaryContext(key, value)
      return [`${key}=${value} ${command.action === 'add-context' ? 'is' : 'is not'} a canary context${changed ? '' : ' already'}`]
    }
    const { key, changed } = await markCanary(store, command.key, command.action === 'add' ? { canary: true, value: command.value } : { canary: false })
    const what = command.action === 'add' ? 'is a canary' : 'is not a canary'
    return [`${key.arn} ${what}${changed ? '' : ' already'}`]
  })
}

/** Options of `trent admin create-account`. */
export interface CreateAccountOptions {
  accountId: string
  dataDir: string
  storeUrl?: string
  /** Where to write the credentials (mode 0600, never over an existing file); else only returned. */
  credentialsFile?: string
}

/**
 * `trent admin create-account`: creates a further account's root access key in the store of a data
 * dir (or a PostgreSQL URL), its secret wrapped by an HSM process of its own that loads the stored
 * domain with the data dir's seal key. Safe to run next to serving nodes (SQLite WAL, PostgreSQL).
 * Refuses while no node has initialised the store, and for an account that already has root
 * credentials. Returns the credentials in AWS shared-credentials format, in a profile named after
 * the account.
 */
export async function createAccountAdmin(options: CreateAccountOptions): Promise<{ credentials: AccessKeyPair; text: string; file?: string }> {
  const { accountId, dataDir, storeUrl, credentialsFile } = options
  if (!/^\d{12}$/.test(accountId)) throw new Error(`invalid account id ${accountId} (12 digits)`)
  if (credentialsFile !== undefined && existsSync(credentialsFile)) throw new Error(`${credentialsFile} exists: not overwriting it`)
  if (storeUrl === undefined && !existsSync(join(dataDir, 'trent.db'))) throw new Error(`no Trent data in ${dataDir}: start trent serve on it first`)
  const store = storeUrl === undefined ? openSqlite(dataDir) : openPostgres(storeUrl)
  let hsm: SupervisedHsm | undefined
  try {
    await store.migrate()
    if (!(await store.getSealedDomain())) throw new Error('the store has no domain yet: start trent serve on it first')
    const rootArn = `arn:aws:iam::${accountId}:root`
    const hasRootCredential = (): Promise<boolean> =>
      storeUrl === undefined ? sqliteHasCredential(dataDir, accountId, rootArn) : postgresHasCredential(storeUrl, accountId, rootArn)
    if (await hasRootCredential()) throw new Error(`account ${accountId} already has credentials`)
    hsm = new SupervisedHsm({
      command: process.execPath,
      args: [CLI, 'hsm', '--stdio', '--data-dir', dataDir],
      onStart: async (h) => {
        const sealed = await store.getSealedDomain()
        if (sealed) await h.loadDomain(sealed)
      },
    })
    await hsm.ready().catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)} (the data dir's seal.key must be the one that sealed the store's domain)`, { cause: e })
    })
    const service = new KmsService({ store, hsm, clock: systemClock, region: 'us-east-1', partition: 'aws' })
    const credentials = await createAccount(service, accountId, hasRootCredential)
    const text = `[${accountId}]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\n`
    if (credentialsFile !== undefined) {
      writeFileSync(credentialsFile, text, { mode: 0o600, flag: 'wx' })
      chmodSync(credentialsFile, 0o600)
      return { credentials, text, file: credentialsFile }
    }
    return { credentials, text }
  } finally {
    await hsm?.close()
    await store.close()
  }
}

/** Whether the SQLite store of a data dir holds a credential of `principalArn` (read-only connection). */
async function sqliteHasCredential(dataDir: string, accountId: string, principalArn: string): Promise<boolean> {
  const db = new Database(join(dataDir, 'trent.db'), { readonly: true, fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    return db.prepare('SELECT 1 FROM credentials WHERE account_id = ? AND principal_arn = ? LIMIT 1').get(accountId, principalArn) !== undefined
  } finally {
    db.close()
  }
}

/** Whether the PostgreSQL store holds a credential of `principalArn`. */
async function postgresHasCredential(url: string, accountId: string, principalArn: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PG_TIMEOUT_MS, application_name: 'trent-admin' })
  await client.connect()
  try {
    const r = await client.query('SELECT 1 FROM credentials WHERE account_id = $1 AND principal_arn = $2 LIMIT 1', [accountId, principalArn])
    return r.rows.length > 0
  } finally {
    await client.end()
  }
}

/** Options of `trent hsm`. */
export type HsmRunOptions =
  | { dataDir: string; mode: 'stdio' }
  | { dataDir: string; mode: 'listen'; socketPath: string; pskFile: string }

/** Runs the HSM process: the software HSM behind the authenticated channel. */
export async function runHsm(options: HsmRunOptions): Promise<void> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const createHsm = () => SoftwareHsm.create({ sealKey: loadOrCreateSealKey(options.dataDir) })
  if (options.mode === 'stdio') {
    await runHsmChild({ stdin: process.stdin, stdout: process.stdout, createHsm })
    return
  }
  const psk = new Uint8Array(readFileSync(options.pskFile))
  if (psk.length !== 32) throw new Error(`${options.pskFile} must hold exactly 32 bytes`)
  await listenHsm({ socketPath: options.socketPath, hsm: await createHsm(), psk })
}

/** Where `trent audit` reads a trail: a data dir's, or an exported copy with its public key. */
export type AuditLocation = { dataDir: string } | { trailDir: string; publicKeyFile: string }

function auditDir(where: AuditLocation): { dir: string; publicKeyFile: string } {
  const dir = 'dataDir' in where ? join(where.dataDir, 'audit') : where.trailDir
  if (!existsSync(dir)) throw new Error(`no audit trail in ${dir}`)
  return { dir, publicKeyFile: 'publicKeyFile' in where ? where.publicKeyFile : join(dir, PUBLIC_KEY_FILE) }
}

/**
 * `trent audit verify`: checks a trail offline with its public key (no HSM, no store); with
 * `since` (ms since the epoch), only from then on, so that pruned segments are not missed.
 */
export function verifyAudit(where: AuditLocation, since?: number): VerifyResult {
  const { dir, publicKeyFile } = auditDir(where)
  return verifyTrail(dir, readFileSync(publicKeyFile, 'utf8'), since !== undefined ? { since } : {})
}

/** `trent audit prune`: removes the sealed segments recorded before `before` (see {@link pruneTrail}). */
export function pruneAudit(where: AuditLocation, before: number, dryRun: boolean): PruneResult {
  const { dir, publicKeyFile } = auditDir(where)
  return pruneTrail(dir, readFileSync(publicKeyFile, 'utf8'), before, { dryRun })
}

/** `trent audit query`: the records that pass `filter`, oldest first. */
export function* queryAudit(where: AuditLocation, filter: EventFilter): Generator<AuditEvent> {
  for (const r of readRecords(auditDir(where).dir)) if (matches(r.event, filter)) yield r.event
}

/**
 * `trent audit export`: copies the sealed and unsealed segments, the digests with their signatures
 * and the public key into `out` (created; must be empty), so the copy verifies on its own.
 */
export function exportAudit(where: AuditLocation, out: string): { files: number } {
  const { dir, publicKeyFile } = auditDir(where)
  mkdirSync(out, { recursive: true })
  if (readdirSync(out).length > 0) throw new Error(`${out} is not empty`)
  const { segments, digests } = listTrail(dir)
  // A record being appended right now is left out: only complete lines are copied.
  for (const s of segments) {
    const text = readSegment(join(dir, s.name))
    writeFileSync(join(out, s.name), text.slice(0, text.lastIndexOf('\n') + 1))
  }
  for (const name of digests.flatMap((d) => [d.name, signatureName(d.name)])) copyFileSync(join(dir, name), join(out, name))
  copyFileSync(publicKeyFile, join(out, PUBLIC_KEY_FILE))
  return { files: segments.length + 2 * digests.length + 1 }
}
