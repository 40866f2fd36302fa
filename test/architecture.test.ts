import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const src = join(root, 'src')

/** Which layers each layer may import (everything may import itself and core). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  hsm: [],
  policy: [],
  store: [],
  'store/sqlite': ['store'],
  'store/postgres': ['store'],
  audit: ['store'],
  service: ['hsm', 'policy', 'store', 'audit'],
  api: ['service'],
  cli: ['main'],
  main: ['*'],
}

function layerOf(file: string): string {
  const rel = relative(src, file).replaceAll('\\', '/')
  if (rel === 'main.ts') return 'main'
  const parts = rel.split('/')
  if (parts[0] === 'store' && parts.length > 2) return `store/${parts[1]}`
  return parts.length > 1 ? parts[0]! : rel.replace(/\.ts$/, '')
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : []
  })
}

/** Every (from layer, to layer, file, specifier) edge of relative imports under src/. */
function edges(): Array<{ from: string; to: string; file: string; spec: string }> {
  const out = []
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2])!
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts')
      out.push({ from: layerOf(file), to: layerOf(target), file: relative(root, file), spec })
    }
  }
  return out
}

function allowed(from: string, to: string): boolean {
  if (from === to || to === 'core') return true
  const rule = ALLOWED[from]
  if (!rule) return false
  return rule.includes('*') || rule.includes(to)
}

describe('architecture', () => {
  it('imports flow api → service → {hsm, policy, store, audit} → core, and only main wires backends', () => {
    const bad = edges().filter((e) => !allowed(e.from, e.to)).map((e) => `${e.file}: ${e.from} → ${e.to} (${e.spec})`)
    assert.deepEqual(bad, [])
  })

  it('the checker itself rejects a forbidden edge', () => {
    assert.equal(allowed('hsm', 'service'), false)
    assert.equal(allowed('service', 'store/sqlite'), false)
    assert.equal(allowed('api', 'hsm'), false)
    assert.equal(allowed('store/sqlite', 'store/postgres'), false)
    assert.equal(allowed('api', 'service'), true)
  })

  it('every file under src/ belongs to a known layer', () => {
    const unknown = sources(src).map(layerOf).filter((l) => !(l in ALLOWED))
    assert.deepEqual([...new Set(unknown)], [])
  })
})
