import type { KMSClient } from '@aws-sdk/client-kms'
import type { Clock } from '../../src/core/clock.js'
import { kmsClient } from './harness.js'

/**
 * The server's clock: real time plus an offset the test moves. It stays a running clock (not a
 * frozen one) so that SigV4 stays real: the verifier refuses requests dated more than 15 minutes
 * from the server's now, so the SDK signs at the same offset (see {@link clockedClient}). Jumping
 * the offset 8 days ahead is "8 days later" for both sides.
 */
export class ShiftedClock implements Clock {
  offsetMs = 0
  now(): number {
    return Date.now() + this.offsetMs
  }
}

/**
 * An SDK client that signs by the server's clock. The SDK signs at Date.now() + systemClockOffset,
 * and re-samples that offset from every response's Date header — which node:http writes from the
 * real clock, not Trent's — so the offset is pinned again before every request.
 */
export function clockedClient(url: string, clock: ShiftedClock): KMSClient {
  const kms = kmsClient(url)
  kms.middlewareStack.add(
    (next) => async (args) => {
      kms.config.systemClockOffset = clock.offsetMs
      return next(args)
    },
    { step: 'initialize', name: 'signByTrentClock' },
  )
  return kms
}
