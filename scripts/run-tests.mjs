// Runs every compiled test file under dist/ with node's test runner. Node 20's runner takes no
// glob, so the files are listed here; TEST_FILTER narrows them by substring.
//
// PostgreSQL: without TRENT_TEST_PG_URL (or DATABASE_URL), and when /usr/lib/postgresql/*/bin
// exists, a private throwaway cluster (scripts/pg-test-cluster.sh, on a free port, data under /tmp)
// is started for the run and stopped at the end. Otherwise the PostgreSQL tests skip with one line,
// unless TRENT_TEST_PG_REQUIRED=1 (CI), which makes a missing PostgreSQL a failure.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

function find(dir) {
  let out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out = out.concat(find(p))
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function hasPostgres() {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`))
  } catch {
    return false
  }
}

const filter = process.env.TEST_FILTER
const files = ['dist/src', 'dist/test'].flatMap((d) => { try { return find(d) } catch { return [] } })
  .filter((f) => !filter || f.includes(filter))
  .sort()

const env = { ...process.env }
let cluster
// Only the files named like this talk to PostgreSQL; others never need the cluster.
const needsPostgres = files.some((f) => /postgres|multi-node/.test(f))
if (needsPostgres && !env.TRENT_TEST_PG_URL && !env.DATABASE_URL && hasPostgres()) {
  const port = String(await freePort())
  cluster = { ...env, TRENT_PG_PORT: port, TRENT_PG_DIR: `/tmp/trent-pg-test-${process.pid}` }
  const started = spawnSync('scripts/pg-test-cluster.sh', ['start'], { env: cluster, encoding: 'utf8' })
  const url = started.status === 0 ? started.stdout.trim().split('\n').at(-1) : undefined
  if (url) {
    env.TRENT_TEST_PG_URL = url
    process.stdout.write(`PostgreSQL test cluster on ${url}\n`)
  } else {
    process.stderr.write(`Could not start the PostgreSQL test cluster:\n${started.stderr}\n`)
    cluster = undefined
  }
}
if (needsPostgres && env.TRENT_TEST_PG_REQUIRED === '1' && !env.TRENT_TEST_PG_URL && !env.DATABASE_URL) {
  process.stderr.write('TRENT_TEST_PG_REQUIRED=1 but there is no PostgreSQL to test against\n')
  process.exit(1)
}

function stopCluster() {
  if (cluster) spawnSync('scripts/pg-test-cluster.sh', ['stop'], { env: cluster, stdio: 'inherit' })
  cluster = undefined
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopCluster()
    process.exit(130)
  })
}

const args = ['--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files]
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env })
stopCluster()
process.exit(r.status ?? 1)
