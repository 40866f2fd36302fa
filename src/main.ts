import { randomUUID } from 'node:crypto'
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { createApiServer } from './api/server.js'
import { systemClock, type Clock } from './core/clock.js'
import { runHsmChild } from './hsm/hsm-child.js'
import { listenHsm } from './hsm/hsm-server.js'
import { SupervisedHsm } from './hsm/hsm-supervisor.js'
import { loadOrCreateSealKey } from './hsm/seal.js'
import { SoftwareHsm } from './hsm/software-hsm.js'
import { DeletionScheduler } from './service/deletion-scheduler.js'
import { KmsService, type AccessKeyPair } from './service/kms-service.js'
import { CachedStore } from './store/cached-store.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'

/** Everything `trent serve` needs to know. */
export interface TrentConfig {
  host: string
  port: number
  dataDir: string
  region: string
  accountId: string
  admin?: AccessKeyPair
  /** How long key metadata may be served from memory; bounds how late a change made through another node is seen. Default 1000 ms. */
  cacheTtlMs?: number
  clock?: Clock
}

/** A running Trent front end. */
export interface RunningTrent {
  url: string
  server: Server
  /** Set when first start generated admin credentials into this file. */
  credentialsFile?: string
  /**
   * Admin/test hook: deletes now the keys whose deletion date has passed (by the configured clock),
   * as the periodic deletion job does; resolves to how many this node deleted.
   */
  runDueDeletions(): Promise<number>
  /** Stops the deletion job, stops accepting, finishes requests in flight, stops the HSM and closes the store. */
  close(): Promise<void>
}

const CLI = fileURLToPath(new URL('./cli/trent.js', import.meta.url))

/** Starts the embedded default: SQLite store, spawned software HSM, HTTP front end. */
export async function startServer(config: TrentConfig): Promise<RunningTrent> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const dbFile = join(config.dataDir, 'trent.db')
  // SQLite gives its -wal and -shm files the database file's mode: make that private first.
  closeSync(openSync(dbFile, 'a', 0o600))
  chmodSync(dbFile, 0o600)
  const clock = config.clock ?? systemClock
  const store = new CachedStore(new SqliteStore(new Database(dbFile)), { clock, ...(config.cacheTtlMs === undefined ? {} : { ttlMs: config.cacheTtlMs }) })
  await store.migrate()
  const hsm = new SupervisedHsm({
    command: process.execPath,
    args: [CLI, 'hsm', '--stdio', '--data-dir', config.dataDir],
    // A respawned HSM starts empty: give it the domain again before it serves.
    onStart: async (h) => {
      const sealed = await store.getSealedDomain()
      if (sealed) await h.loadDomain(sealed)
    },
  })
  const deletions = new DeletionScheduler({ store, clock, holder: `${hostname()}/${process.pid}/${randomUUID()}` })
  try {
    await hsm.ready()
    const service = new KmsService({ store, hsm, clock, region: config.region, partition: 'aws' })
    const init = await service.initialize({ accountId: config.accountId, ...(config.admin ? { admin: config.admin } : {}) })
    const credentialsFile = init.created ? writeCredentials(config.dataDir, init.created) : undefined
    // Its first run, before serving, deletes the keys that fell due while the server was down.
    await deletions.start()

    const server = createApiServer(service, { region: config.region, clock })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.port, config.host, () => resolve())
    })
    const { port } = server.address() as AddressInfo
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    return {
      url: `http://${host}:${port}`,
      server,
      ...(credentialsFile ? { credentialsFile } : {}),
      runDueDeletions: () => deletions.runOnce(),
      async close() {
        await deletions.stop()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await closed
        await hsm.close()
        await store.close()
      },
    }
  } catch (e) {
    await deletions.stop()
    await hsm.close()
    await store.close()
    throw e
  }
}

function writeCredentials(dataDir: string, pair: AccessKeyPair): string {
  const file = join(dataDir, 'admin-credentials')
  const text = `[trent]\naws_access_key_id = ${pair.accessKeyId}\naws_secret_access_key = ${pair.secretAccessKey}\n`
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  return file
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
