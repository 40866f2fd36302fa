import { createHash } from 'node:crypto'

/**
 * What a store keeps of a grant token: its SHA-256. A token is not secret (AWS: "a grant token is
 * not a secret"), but storing only the digest means a leaked database does not list usable tokens.
 */
export function grantTokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** The JSON text a grant's operations/constraints are stored as (the service canonicalises them). */
export function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value)
}
