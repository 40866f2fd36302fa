import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { escapeLabelValue, MetricsRegistry } from './metrics.js'

describe('metrics registry', () => {
  it('escapes backslash, double quote and newline in label values, and nothing else', () => {
    assert.equal(escapeLabelValue('plain value/with:colons'), 'plain value/with:colons')
    assert.equal(escapeLabelValue('a\\b'), 'a\\\\b')
    assert.equal(escapeLabelValue('say "hi"'), 'say \\"hi\\"')
    assert.equal(escapeLabelValue('two\nlines'), 'two\\nlines')
    assert.equal(escapeLabelValue('\\"\n'), '\\\\\\"\\n')
  })

  it('renders counters with HELP, TYPE and escaped labels', () => {
    const r = new MetricsRegistry()
    const c = r.counter('trent_test_total', 'A test\ncounter with a \\ backslash.', ['op'])
    c.labels('Encrypt').inc()
    c.labels('Encrypt').inc(2)
    c.labels('we"ird\\').inc()
    assert.equal(
      r.render(),
      [
        '# HELP trent_test_total A test\\ncounter with a \\\\ backslash.',
        '# TYPE trent_test_total counter',
        'trent_test_total{op="Encrypt"} 3',
        'trent_test_total{op="we\\"ird\\\\"} 1',
        '',
      ].join('\n'),
    )
  })

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const r = new MetricsRegistry()
    const h = r.histogram('trent_latency_seconds', 'Latency.', ['op'], [0.1, 1])
    const s = h.labels('Decrypt')
    for (const v of [0.05, 0.1, 0.5, 2, 3]) s.observe(v)
    const lines = r.render().trim().split('\n')
    assert.deepEqual(lines.slice(2), [
      'trent_latency_seconds_bucket{op="Decrypt",le="0.1"} 2',
      'trent_latency_seconds_bucket{op="Decrypt",le="1"} 3',
      'trent_latency_seconds_bucket{op="Decrypt",le="+Inf"} 5',
      'trent_latency_seconds_sum{op="Decrypt"} 5.65',
      'trent_latency_seconds_count{op="Decrypt"} 5',
    ])
  })

  it('shows a gauge only once registered, reading its value at each scrape', () => {
    const r = new MetricsRegistry()
    assert.doesNotMatch(r.render(), /trent_audit_queue_depth/)
    let depth = 3
    r.gauge('trent_audit_queue_depth', 'Audit records waiting to be written.', () => depth)
    assert.match(r.render(), /^trent_audit_queue_depth 3$/m)
    depth = 7
    assert.match(r.render(), /^trent_audit_queue_depth 7$/m)
  })

  it('a failing gauge reader gives NaN instead of failing the scrape', () => {
    const r = new MetricsRegistry()
    r.gauge('trent_broken', 'Broken.', () => {
      throw new Error('boom')
    })
    assert.match(r.render(), /^trent_broken NaN$/m)
  })

  it('refuses invalid or duplicate names and a wrong number of label values', () => {
    const r = new MetricsRegistry()
    assert.throws(() => r.counter('bad-name', 'x'), TypeError)
    assert.throws(() => r.counter('ok_total', 'x', ['bad-label']), TypeError)
    assert.throws(() => r.histogram('h', 'x', ['le']), TypeError)
    r.counter('dup_total', 'x')
    assert.throws(() => r.counter('dup_total', 'x'), TypeError)
    const c = r.counter('two_total', 'x', ['a', 'b'])
    assert.throws(() => c.labels('only-one'), TypeError)
  })
})
