// TEST DOUBLE ONLY: the HSM child entry over the fake engine, spawned by the supervisor tests.
import { runHsmChild } from '../hsm-child.js'
import { FakeHsm } from './fake-hsm.js'

runHsmChild({ stdin: process.stdin, stdout: process.stdout, createHsm: () => new FakeHsm() }).catch((e: unknown) => {
  process.stderr.write(`fake-hsm-child: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
