import { randomFillSync } from 'node:crypto'

/**
 * Random bytes from the operating system's CSPRNG, drawn in blocks. Each randomFillSync call costs
 * several microseconds however small the request, and Encrypt needs two small draws (KDF nonce and
 * IV), so the pool fills a block at once and hands out fresh copies. Bytes handed out are wiped from
 * the block at once, so the pool never holds a value that is in use elsewhere.
 */
export class RandomPool {
  readonly #block: Uint8Array
  #offset: number

  constructor(blockBytes = 4096) {
    this.#block = new Uint8Array(blockBytes)
    this.#offset = blockBytes
  }

  /** `n` random bytes in a new array that the caller owns. */
  take(n: number): Uint8Array {
    // Large requests (data keys, GenerateRandom) gain nothing from the pool.
    if (n > this.#block.length / 4) return randomFillSync(new Uint8Array(n))
    if (this.#offset + n > this.#block.length) {
      randomFillSync(this.#block)
      this.#offset = 0
    }
    const out = this.#block.slice(this.#offset, this.#offset + n)
    this.#block.fill(0, this.#offset, this.#offset + n)
    this.#offset += n
    return out
  }
}
