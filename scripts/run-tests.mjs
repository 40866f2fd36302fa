// Runs every compiled test file under dist/ with node's test runner. Node 20's runner takes no
// glob, so the files are listed here; TEST_FILTER narrows them by substring.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
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

const filter = process.env.TEST_FILTER
const files = ['dist/src', 'dist/test'].flatMap((d) => { try { return find(d) } catch { return [] } })
  .filter((f) => !filter || f.includes(filter))
  .sort()
const args = ['--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files]
const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
process.exit(r.status ?? 1)
