import assert from 'node:assert/strict'

/** One sample line: name, labels (unescaped), value. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * Parses the Prometheus text format line by line, strictly: every line is a HELP, a TYPE, or a
 * sample of the family the last TYPE announced; label values are unescaped.
 */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline')
  const types = new Map<string, string>()
  const samples: Sample[] = []
  let family = ''
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram)$/, line)
        assert.ok(!types.has(meta[2]!), `${meta[2]} declared twice`)
        types.set(meta[2]!, meta[3]!)
        family = meta[2]!
      }
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`)
    const name = m[1]!
    assert.ok(name === family || (types.get(family) === 'histogram' && [`${family}_bucket`, `${family}_sum`, `${family}_count`].includes(name)), `${name} outside its family ${family}`)
    const labels: Record<string, string> = {}
    let rest = m[2] ?? ''
    while (rest.length > 0) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest)
      assert.ok(l, `bad labels in ${line}`)
      labels[l[1]!] = l[2]!.replace(/\\([\\"n])/g, (_s, c: string) => (c === 'n' ? '\n' : c))
      rest = rest.slice(l[0].length)
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3])
    assert.ok(!Number.isNaN(value) || m[3] === 'NaN', `bad value in ${line}`)
    samples.push({ name, labels, value })
  }
  return { samples, types }
}

/** Fetches and parses /metrics. */
export async function scrape(url: string): Promise<{ samples: Sample[]; types: Map<string, string>; value(name: string, labels?: Record<string, string>): number }> {
  const res = await fetch(url)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const parsed = parseExposition(await res.text())
  return {
    ...parsed,
    value(name, labels = {}) {
      const hits = parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)
      assert.ok(hits.length <= 1, `${name} ${JSON.stringify(labels)} is ambiguous`)
      return hits[0]?.value ?? 0
    },
  }
}

