#!/usr/bin/env node
import { parseArgs } from 'node:util'
import {
  canaryAdmin,
  createAccountAdmin,
  explainPolicy,
  exportAudit,
  isPostgresUrl,
  parseCanaryContext,
  pruneAudit,
  queryAudit,
  redactUrl,
  runHsm,
  startServer,
  verifyAudit,
  type AuditLocation,
  type CanaryCommand,
  type CanaryContext,
  type TrentConfig,
} from '../main.js'

const USAGE = `usage: trent <command> [options]

commands:
  serve   serve the AWS KMS API (spawns and supervises the HSM process)
  hsm     run the HSM process (--stdio when spawned by serve, or --listen <socket> standalone)
  policy explain --principal ARN --action kms:Decrypt --key KEY [--context k=v ...] [--data-dir D | --store URL]
          print the decision for a request and the statements or grant that made it (administrators only)
  admin create-account --account-id <12 digits> [--data-dir D | --store URL] [--credentials-file F]
          create a further account and its root access key (administrators only); prints the
          credentials in AWS shared-credentials format, or writes them to F (mode 0600, never over
          an existing file). Needs a store that trent serve has initialised; may run next to it.
  admin canary add|remove --key <key id or ARN> [--value V] [--data-dir D | --store URL]
          mark a key as a canary (sets its trent:canary tag, value V, default true) or unmark it
  admin canary list [--account-id A] [--region R] [--data-dir D | --store URL]
          print the ARNs of the canary keys of an account and region
  admin canary add-context|remove-context --context k=v [--data-dir D | --store URL]
          mark (or unmark) an encryption-context pair as a canary, for every node on the store
  admin canary list-contexts [--data-dir D | --store URL]   print the marked pairs
  audit verify [--since T] [--data-dir D | --trail DIR --public-key FILE]
          prove the audit trail was not edited, deleted, truncated, reordered or forged (offline:
          needs only the trail and its public key); exit 1 naming the first bad record; --since T:
          the oldest segments, recorded before T, may have been pruned
  audit query [--key K] [--principal P] [--event-name N] [--error-code C] [--start-time T] [--end-time T]
          [--data-dir D | --trail DIR]    print matching records as JSON lines, oldest first
  audit export --out DIR [--data-dir D]  copy the trail, its signed digests and the public key to DIR
  audit prune --before T [--dry-run] [--data-dir D]
          remove the sealed segments whose records are all older than T (ISO 8601), once the trail
          verifies; the digests stay, and audit verify --since T goes on proving the rest

options (serve):
  --port <n>          TRENT_PORT          default 7300
  --host <addr>       TRENT_HOST          default 127.0.0.1
  --data-dir <dir>    TRENT_DATA_DIR      default ./.trent-data (seal key; SQLite store unless --store)
  --store <url>       TRENT_STORE_URL     default SQLite in the data dir; postgres://user:pass@host:port/db
                                          for a PostgreSQL database that several nodes share
  --region <r>        TRENT_REGION        default us-east-1
  --account-id <id>   TRENT_ACCOUNT_ID    default 111122223333
  --cache-ttl-ms <n>  TRENT_CACHE_TTL_MS  default 1000; how long key metadata may be served from memory
                                          (0: not cached); bounds how late a change made through another
                                          node is seen when its PostgreSQL notification is lost
  --metrics           TRENT_METRICS=1     serve Prometheus metrics at GET /metrics on the API port
                                          (unauthenticated; off by default)
  --metrics-port <n>  TRENT_METRICS_PORT  serve them on a listener of their own instead
  --metrics-host <a>  TRENT_METRICS_HOST  its address (default: --host)
  --canary-context k=v  TRENT_CANARY_CONTEXT (comma-separated)  repeatable; a request whose encryption
                                          context holds this pair raises a canary alert
  --canary-webhook <url>  TRENT_CANARY_WEBHOOKS (comma-separated)  repeatable; receives each canary
                                          alert as a JSON POST (asynchronous, retried, bounded queue)
  --audit on|off      TRENT_AUDIT         default on; off runs WITHOUT an audit trail, for benchmarking
                                          the trail's cost only
  --audit-digest-interval <s>             default 3600; seconds between signed digests of the trail
  admin credentials at first start: TRENT_ADMIN_ACCESS_KEY_ID, TRENT_ADMIN_SECRET_ACCESS_KEY
`

function fail(message: string): never {
  process.stderr.write(`trent: ${message}\n\n${USAGE}`)
  process.exit(2)
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'cache-ttl-ms': { type: 'string' },
      metrics: { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'canary-context': { type: 'string', multiple: true },
      'canary-webhook': { type: 'string', multiple: true },
      audit: { type: 'string' },
      'audit-digest-interval': { type: 'string' },
    },
    strict: true,
  })
  const env = process.env
  const audit = values.audit ?? (env['TRENT_AUDIT'] || 'on')
  if (audit !== 'on' && audit !== 'off') fail(`invalid --audit ${audit} (on or off)`)
  const digestSeconds = values['audit-digest-interval']
  if (digestSeconds !== undefined && !(/^\d+(\.\d+)?$/.test(digestSeconds) && Number(digestSeconds) > 0)) fail(`invalid --audit-digest-interval ${digestSeconds} (seconds)`)
  const port = Number(values.port ?? env['TRENT_PORT'] ?? 7300)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid port ${values.port ?? env['TRENT_PORT']}`)
  const region = values.region ?? env['TRENT_REGION'] ?? 'us-east-1'
  if (!/^([a-z]+-){2,3}\d+$/.test(region)) fail(`invalid region ${region}`)
  const accountId = values['account-id'] ?? env['TRENT_ACCOUNT_ID'] ?? '111122223333'
  if (!/^\d{12}$/.test(accountId)) fail(`invalid account id ${accountId} (12 digits)`)
  const cacheTtlRaw = values['cache-ttl-ms'] ?? (env['TRENT_CACHE_TTL_MS'] || undefined)
  let cacheTtlMs: number | undefined
  if (cacheTtlRaw !== undefined) {
    cacheTtlMs = Number(cacheTtlRaw)
    if (!/^\d+$/.test(cacheTtlRaw) || !Number.isSafeInteger(cacheTtlMs)) fail(`invalid cache TTL ${cacheTtlRaw} (milliseconds, 0 or more)`)
  }
  const adminId = env['TRENT_ADMIN_ACCESS_KEY_ID']
  const adminSecret = env['TRENT_ADMIN_SECRET_ACCESS_KEY']
  if ((adminId === undefined) !== (adminSecret === undefined)) fail('set both TRENT_ADMIN_ACCESS_KEY_ID and TRENT_ADMIN_SECRET_ACCESS_KEY, or neither')
  // An empty TRENT_STORE_URL means the default, as an unset one does.
  const storeUrl = values.store ?? (env['TRENT_STORE_URL'] || undefined)
  if (storeUrl !== undefined && !isPostgresUrl(storeUrl)) fail(`invalid store ${redactUrl(storeUrl)}: expected a postgres:// URL`)
  const metrics = metricsOption(values.metrics, values['metrics-port'] ?? (env['TRENT_METRICS_PORT'] || undefined), values['metrics-host'] ?? (env['TRENT_METRICS_HOST'] || undefined))
  const canaryContexts = [...splitList(env['TRENT_CANARY_CONTEXT']), ...(values['canary-context'] ?? [])].map((text) => {
    const c = parseCanaryContext(text)
    if (!c) fail(`invalid canary context ${text}: expected key=value`)
    return c
  })
  const canaryWebhooks = [...splitList(env['TRENT_CANARY_WEBHOOKS']), ...(values['canary-webhook'] ?? [])]
  for (const url of canaryWebhooks) if (!/^https?:\/\/[^\s]+$/i.test(url) || !URL.canParse(url)) fail(`invalid canary webhook ${url}: expected an http(s) URL`)
  const config: TrentConfig = {
    port,
    host: values.host ?? env['TRENT_HOST'] ?? '127.0.0.1',
    dataDir: values['data-dir'] ?? env['TRENT_DATA_DIR'] ?? '.trent-data',
    ...(storeUrl !== undefined ? { storeUrl } : {}),
    region,
    accountId,
    ...(cacheTtlMs !== undefined ? { cacheTtlMs } : {}),
    ...(metrics ? { metrics } : {}),
    ...(canaryContexts.length > 0 ? { canaryContexts } : {}),
    ...(canaryWebhooks.length > 0 ? { canaryWebhooks } : {}),
    audit,
    ...(digestSeconds !== undefined ? { auditDigestIntervalMs: Number(digestSeconds) * 1000 } : {}),
    ...(adminId && adminSecret ? { admin: { accessKeyId: adminId, secretAccessKey: adminSecret } } : {}),
  }
  const trent = await startServer(config)
  const where = storeUrl === undefined ? `data ${config.dataDir}` : `data ${config.dataDir}, store ${redactUrl(storeUrl)}`
  // Before the serving line, which tells scripts (and tests) that the node is up.
  if (trent.metricsUrl) process.stdout.write(`trent: Prometheus metrics on ${trent.metricsUrl}\n`)
  process.stdout.write(`trent: serving the AWS KMS API on ${trent.url} (region ${region}, account ${accountId}, ${where})\n`)
  if (trent.credentialsFile) process.stdout.write(`trent: admin credentials written to ${trent.credentialsFile}\n`)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    trent.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`trent: shutdown failed: ${String(e)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** `--metrics` (or TRENT_METRICS=1) serves /metrics on the API port; a metrics port gives it a listener of its own. */
function metricsOption(flag: boolean | undefined, portText: string | undefined, host: string | undefined): TrentConfig['metrics'] {
  if (portText !== undefined) {
    const port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65535) fail(`invalid metrics port ${portText}`)
    return { port, ...(host !== undefined ? { host } : {}) }
  }
  if (host !== undefined) fail('--metrics-host needs --metrics-port')
  return flag || process.env['TRENT_METRICS'] === '1' ? 'api' : undefined
}

/** A comma-separated environment list; empty entries ignored. */
function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

async function hsm(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stdio: { type: 'boolean' },
      listen: { type: 'string' },
      'psk-file': { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  })
  const dataDir = values['data-dir'] ?? process.env['TRENT_DATA_DIR'] ?? '.trent-data'
  if (values.stdio) return runHsm({ dataDir, mode: 'stdio' })
  if (!values.listen) fail('trent hsm needs --stdio or --listen <socket path>')
  if (!values['psk-file']) fail('trent hsm --listen needs --psk-file <file with the 32-byte channel key>')
  await runHsm({ dataDir, mode: 'listen', socketPath: values.listen, pskFile: values['psk-file'] })
}

async function policy(argv: string[]): Promise<void> {
  const [sub, ...args] = argv
  if (sub !== 'explain') fail('usage: trent policy explain --principal ARN --action kms:Decrypt --key KEY [--context k=v ...]')
  const { values } = parseArgs({
    args,
    options: {
      principal: { type: 'string' },
      action: { type: 'string' },
      key: { type: 'string' },
      context: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
    },
    strict: true,
  })
  if (!values.principal || !values.action || !values.key) fail('trent policy explain needs --principal, --action and --key')
  const encryptionContext: Record<string, string> = {}
  for (const pair of values.context ?? []) {
    const i = pair.indexOf('=')
    if (i < 1) fail(`--context takes key=value, got ${pair}`)
    encryptionContext[pair.slice(0, i)] = pair.slice(i + 1)
  }
  const storeUrl = values.store ?? process.env['TRENT_STORE_URL']
  const answer = await explainPolicy(
    { dataDir: values['data-dir'] ?? process.env['TRENT_DATA_DIR'] ?? '.trent-data', ...(storeUrl ? { storeUrl } : {}) },
    { principalArn: values.principal, action: values.action, keyId: values.key, ...(values.context ? { encryptionContext } : {}) },
  )
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`)
}

const CANARY_USAGE =
  'usage: trent admin canary add|remove --key <key id or ARN> [--value V] | list [--account-id A] [--region R] | add-context|remove-context --context k=v | list-contexts  [--data-dir D | --store URL]'

async function canary(argv: string[]): Promise<void> {
  const [action, ...args] = argv
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      value: { type: 'string' },
      context: { type: 'string' },
      'account-id': { type: 'string' },
      region: { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
    },
    strict: true,
  })
  const env = process.env
  const storeUrl = values.store ?? (env['TRENT_STORE_URL'] || undefined)
  if (storeUrl !== undefined && !isPostgresUrl(storeUrl)) fail(`invalid store ${redactUrl(storeUrl)}: expected a postgres:// URL`)
  const where = { dataDir: values['data-dir'] ?? env['TRENT_DATA_DIR'] ?? '.trent-data', ...(storeUrl !== undefined ? { storeUrl } : {}) }
  const key = (): string => values.key ?? fail(`trent admin canary ${action} needs --key`)
  const context = (): CanaryContext => (values.context === undefined ? undefined : parseCanaryContext(values.context)) ?? fail(`trent admin canary ${action} needs --context key=value`)
  let command: CanaryCommand
  switch (action) {
    case 'add':
      command = { action, key: key(), value: values.value ?? 'true' }
      break
    case 'remove':
      command = { action, key: key() }
      break
    case 'list':
      command = { action, accountId: values['account-id'] ?? env['TRENT_ACCOUNT_ID'] ?? '111122223333', region: values.region ?? env['TRENT_REGION'] ?? 'us-east-1' }
      break
    case 'add-context':
    case 'remove-context':
      command = { action, context: context() }
      break
    case 'list-contexts':
      command = { action }
      break
    default:
      fail(CANARY_USAGE)
  }
  for (const line of await canaryAdmin(where, command)) process.stdout.write(`${line}\n`)
}

async function admin(argv: string[]): Promise<void> {
  const [sub, ...args] = argv
  if (sub === 'canary') return canary(args)
  if (sub !== 'create-account') fail(`usage: trent admin create-account --account-id <12 digits> [--data-dir D | --store URL] [--credentials-file F]\n       ${CANARY_USAGE.slice('usage: '.length)}`)
  const { values } = parseArgs({
    args,
    options: {
      'account-id': { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
      'credentials-file': { type: 'string' },
    },
    strict: true,
  })
  const accountId = values['account-id']
  if (!accountId) fail('trent admin create-account needs --account-id')
  if (!/^\d{12}$/.test(accountId)) fail(`invalid account id ${accountId} (12 digits)`)
  const storeUrl = values.store ?? (process.env['TRENT_STORE_URL'] || undefined)
  if (storeUrl !== undefined && !isPostgresUrl(storeUrl)) fail(`invalid store ${redactUrl(storeUrl)}: expected a postgres:// URL`)
  const result = await createAccountAdmin({
    accountId,
    dataDir: values['data-dir'] ?? process.env['TRENT_DATA_DIR'] ?? '.trent-data',
    ...(storeUrl !== undefined ? { storeUrl } : {}),
    ...(values['credentials-file'] !== undefined ? { credentialsFile: values['credentials-file'] } : {}),
  })
  if (result.file) process.stdout.write(`trent: account ${accountId} created; root credentials written to ${result.file}\n`)
  else process.stdout.write(result.text)
}

async function auditCommand(argv: string[]): Promise<void> {
  const [sub, ...args] = argv
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      trail: { type: 'string' },
      'public-key': { type: 'string' },
      out: { type: 'string' },
      key: { type: 'string' },
      principal: { type: 'string' },
      'event-name': { type: 'string' },
      'error-code': { type: 'string' },
      'start-time': { type: 'string' },
      'end-time': { type: 'string' },
      since: { type: 'string' },
      before: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    strict: true,
  })
  const time = (name: 'start-time' | 'end-time' | 'since' | 'before'): number | undefined => {
    const v = values[name]
    if (v === undefined) return undefined
    const t = Date.parse(v)
    if (Number.isNaN(t)) fail(`invalid --${name} ${v} (ISO 8601)`)
    return t
  }
  const where: AuditLocation =
    values.trail !== undefined
      ? { trailDir: values.trail, publicKeyFile: values['public-key'] ?? `${values.trail}/public-key.pem` }
      : { dataDir: values['data-dir'] ?? process.env['TRENT_DATA_DIR'] ?? '.trent-data' }
  if (sub === 'verify') {
    const r = verifyAudit(where, time('since'))
    if (!r.ok) {
      process.stderr.write(`trent: audit trail FAILED verification\n${r.problems.map((p) => `  ${p}`).join('\n')}\n`)
      if (r.firstBad) process.stderr.write(`first bad record: ${r.firstBad.sequence} (${r.firstBad.file} line ${r.firstBad.line})\n`)
      process.exit(1)
    }
    const torn = r.tornTail ? '; the newest segment ends in a partly written record (an append interrupted by a crash, never acknowledged)' : ''
    const pruned = r.prunedRecords > 0 ? `; the ${r.prunedRecords} oldest records were pruned (their digests verify, and the chain goes on from them)` : ''
    const tail = pruned + (r.unsealedRecords > 0 ? `; ${r.unsealedRecords} newest records are chained but not yet sealed by a digest` : '') + torn
    process.stdout.write(`trent: audit trail verified: ${r.records} records, ${r.digests} signed digests${tail}\n`)
    return
  }
  if (sub === 'query') {
    const start = time('start-time')
    const end = time('end-time')
    const filter = {
      ...(values.key !== undefined ? { key: values.key } : {}),
      ...(values.principal !== undefined ? { principal: values.principal } : {}),
      ...(values['event-name'] !== undefined ? { eventName: values['event-name'] } : {}),
      ...(values['error-code'] !== undefined ? { errorCode: values['error-code'] } : {}),
      ...(start !== undefined ? { startTime: start } : {}),
      ...(end !== undefined ? { endTime: end } : {}),
    }
    for (const event of queryAudit(where, filter)) process.stdout.write(`${JSON.stringify(event)}\n`)
    return
  }
  if (sub === 'export') {
    if (values.out === undefined) fail('trent audit export needs --out DIR')
    const { files } = exportAudit(where, values.out)
    process.stdout.write(`trent: exported ${files} files to ${values.out}; verify with: trent audit verify --trail ${values.out}\n`)
    return
  }
  if (sub === 'prune') {
    const before = time('before')
    if (before === undefined) fail('trent audit prune needs --before T (ISO 8601)')
    let result
    try {
      result = pruneAudit(where, before, values['dry-run'] === true)
    } catch (e) {
      process.stderr.write(`trent: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(1)
    }
    const verb = values['dry-run'] ? 'would remove' : 'removed'
    process.stdout.write(`trent: ${verb} ${result.files.length} sealed segments (${result.records} records) older than ${new Date(before).toISOString()}${result.files.length ? `: ${result.files.join(' ')}` : ''}\n`)
    return
  }
  fail('usage: trent audit verify|query|export|prune [options]')
}

const [command, ...rest] = process.argv.slice(2)
const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { serve, hsm, policy, admin, audit: auditCommand }
const run = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
if (!run) fail(command ? `unknown command ${command}` : 'no command given')
run(rest).catch((e: unknown) => {
  process.stderr.write(`trent: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
