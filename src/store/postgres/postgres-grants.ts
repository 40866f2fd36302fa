/**
 * The grant methods of {@link PostgresStore}, as functions over a query runner or a transaction,
 * kept apart from postgres-store.ts. Grant writes send the key's change report (NOTIFY) in their
 * transaction, so other nodes' caches drop the key's grants at once.
 *
 * @module
 */
import { grantTokenHash, jsonOrNull } from '../grant-tokens.js'
import { decodeMarker, decodeSeq, encodeMarker, encodeSeq, grantMarkerScope, retirableGrantMarkerScope, type MarkerScope } from '../list-markers.js'
import { StoreConflictError, type GrantPage, type GrantRecord } from '../store.js'
import type { PgQueryable } from './postgres-config.js'
import { notifyKeySql } from './postgres-notifications.js'

type PgInt = string | number

interface GrantRow {
  seq: PgInt
  grant_id: string
  key_id: string
  name: string | null
  grantee_principal: string
  retiring_principal: string | null
  operations: string
  constraints: string | null
  issuing_account: string
  creation_date: PgInt
}

const GRANT_COLUMNS =
  'g.seq, g.grant_id, g.key_id, g.name, g.grantee_principal, g.retiring_principal, g.operations, g.constraints, g.issuing_account, g.creation_date'

/** See Store.createGrant. Locks the key row, so grants of one key take their positions in commit order. */
export async function pgCreateGrant(tx: PgQueryable, grant: GrantRecord, token: string): Promise<GrantRecord> {
  const g = grant
  const operations = JSON.stringify(g.operations)
  const constraints = jsonOrNull(g.constraints)
  const key = await tx.query('SELECT 1 FROM keys WHERE key_id = $1 FOR UPDATE', [g.keyId])
  if (key.rows.length === 0) throw new StoreConflictError(`key ${g.keyId} does not exist`)
  let stored: GrantRecord = g
  const same =
    g.name === undefined
      ? undefined
      : ((
          await tx.query(
            `SELECT ${GRANT_COLUMNS} FROM grants g WHERE g.key_id = $1 AND g.name = $2 AND g.grantee_principal = $3
             AND g.retiring_principal IS NOT DISTINCT FROM $4 AND g.operations = $5 AND g.constraints IS NOT DISTINCT FROM $6
             ORDER BY g.seq LIMIT 1`,
            [g.keyId, g.name, g.granteePrincipal, g.retiringPrincipal ?? null, operations, constraints],
          )
        ).rows[0] as GrantRow | undefined)
  if (same !== undefined) {
    stored = toGrant(same)
  } else {
    await tx.query(
      `INSERT INTO grants (grant_id, key_id, name, grantee_principal, retiring_principal, operations, constraints, issuing_account, creation_date)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [g.grantId, g.keyId, g.name ?? null, g.granteePrincipal, g.retiringPrincipal ?? null, operations, constraints, g.issuingAccount, g.creationDate],
    )
    await tx.query(`SELECT ${notifyKeySql('$1::text')}`, [g.keyId])
  }
  await tx.query('INSERT INTO grant_tokens (token_hash, grant_id) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING', [
    grantTokenHash(token),
    stored.grantId,
  ])
  return { ...stored, operations: [...stored.operations] }
}

export async function pgGetGrant(q: PgQueryable, grantId: string): Promise<GrantRecord | undefined> {
  const row = (await q.query(`SELECT ${GRANT_COLUMNS} FROM grants g WHERE g.grant_id = $1`, [grantId])).rows[0] as GrantRow | undefined
  return row === undefined ? undefined : toGrant(row)
}

export async function pgListGrants(
  q: PgQueryable,
  keyId: string,
  options: { grantId?: string; granteePrincipal?: string; limit: number; after?: string },
): Promise<GrantPage> {
  const { grantId, granteePrincipal, limit, after } = options
  checkLimit(limit)
  const scope = grantMarkerScope(keyId, grantId, granteePrincipal)
  const afterSeq = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
  const rows = (
    await q.query(
      `SELECT ${GRANT_COLUMNS} FROM grants g WHERE g.key_id = $1 AND g.seq > $2
       AND ($3::text IS NULL OR g.grant_id = $3) AND ($4::text IS NULL OR g.grantee_principal = $4)
       ORDER BY g.seq LIMIT $5`,
      [keyId, afterSeq, grantId ?? null, granteePrincipal ?? null, limit + 1],
    )
  ).rows as GrantRow[]
  return grantPage(rows, limit, scope)
}

export async function pgListRetirableGrants(
  q: PgQueryable,
  accountId: string,
  region: string,
  retiringPrincipal: string,
  options: { limit: number; after?: string },
): Promise<GrantPage> {
  const { limit, after } = options
  checkLimit(limit)
  const scope = retirableGrantMarkerScope(accountId, region, retiringPrincipal)
  const afterSeq = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
  const rows = (
    await q.query(
      `SELECT ${GRANT_COLUMNS} FROM grants g JOIN keys k ON k.key_id = g.key_id
       WHERE g.retiring_principal = $1 AND k.account_id = $2 AND k.region = $3 AND g.seq > $4 ORDER BY g.seq LIMIT $5`,
      [retiringPrincipal, accountId, region, afterSeq, limit + 1],
    )
  ).rows as GrantRow[]
  return grantPage(rows, limit, scope)
}

/** Deletes a grant (its tokens go by ON DELETE CASCADE) and reports its key as changed. */
export async function pgDeleteGrant(q: PgQueryable, grantId: string): Promise<boolean> {
  const result = await q.query(
    `WITH deleted AS (DELETE FROM grants WHERE grant_id = $1 RETURNING key_id)
     SELECT ${notifyKeySql('key_id')} FROM deleted`,
    [grantId],
  )
  return result.rowCount === 1
}

export async function pgGrantByToken(q: PgQueryable, token: string): Promise<GrantRecord | undefined> {
  const row = (
    await q.query(`SELECT ${GRANT_COLUMNS} FROM grant_tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = $1`, [
      grantTokenHash(token),
    ])
  ).rows[0] as GrantRow | undefined
  return row === undefined ? undefined : toGrant(row)
}

export async function pgCountGrants(q: PgQueryable, keyId: string): Promise<number> {
  const row = (await q.query('SELECT count(*) AS n FROM grants WHERE key_id = $1', [keyId])).rows[0] as { n: PgInt }
  return int(row.n)
}

function toGrant(r: GrantRow): GrantRecord {
  return {
    grantId: r.grant_id,
    keyId: r.key_id,
    ...(r.name === null ? {} : { name: r.name }),
    granteePrincipal: r.grantee_principal,
    ...(r.retiring_principal === null ? {} : { retiringPrincipal: r.retiring_principal }),
    operations: JSON.parse(r.operations) as string[],
    ...(r.constraints === null ? {} : { constraints: JSON.parse(r.constraints) as NonNullable<GrantRecord['constraints']> }),
    issuingAccount: r.issuing_account,
    creationDate: int(r.creation_date),
  }
}

function grantPage(rows: GrantRow[], limit: number, scope: MarkerScope): GrantPage {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    grants: page.map(toGrant),
    ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(scope, encodeSeq(int(last.seq))) } : {}),
  }
}

function int(value: PgInt): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError(`PostgresStore: ${value} is not a safe integer`)
  return n
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
}
