import { timingSafeEqual } from 'node:crypto'

/** Overwrites secret bytes in place. Call in `finally` once a key or plaintext is no longer needed. */
export function zeroize(...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) b?.fill(0)
}

/** Constant-time equality of two byte strings; unequal lengths are unequal without a timing leak of content. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    // Still spend one comparison so a length mismatch is not measurably faster.
    timingSafeEqual(a, a)
    return false
  }
  return timingSafeEqual(a, b)
}
