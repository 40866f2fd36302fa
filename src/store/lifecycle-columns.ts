import type { ExpirationModel, KeyMaterialRecord, KeyRecord, RotationType } from './store.js'

/**
 * The rotation and import columns of `keys` and `key_materials`, shared by the SQLite and
 * PostgreSQL stores (same column names in both schemas). Reads take the driver's integer
 * conversion, since PostgreSQL hands bigints out as strings.
 */

/** The lifecycle columns of `keys`, in the order the statements name them. */
export const KEY_LIFECYCLE_COLUMNS = [
  'rotation_period_in_days',
  'next_rotation_date',
  'on_demand_rotation_start_date',
  'pending_key_material_id',
  'expiration_model',
  'valid_to',
] as const

/** The columns of `key_materials`, in the order the statements name them. */
export const MATERIAL_COLUMNS = [
  'key_id',
  'key_material_id',
  'ekt',
  'created_at',
  'rotation_type',
  'rotation_date',
  'import_state',
  'expiration_model',
  'valid_to',
  'description',
] as const

type Int = number | string
type Nullable<T> = T | null

/** A `keys` row's lifecycle columns as read. */
export interface KeyLifecycleRow {
  rotation_period_in_days: Nullable<Int>
  next_rotation_date: Nullable<Int>
  on_demand_rotation_start_date: Nullable<Int>
  pending_key_material_id: string | null
  expiration_model: string | null
  valid_to: Nullable<Int>
}

/** A `key_materials` row as read. */
export interface MaterialRow {
  key_id: string
  key_material_id: string
  ekt: Uint8Array
  created_at: Int
  rotation_type: string | null
  rotation_date: Nullable<Int>
  import_state: string | null
  expiration_model: string | null
  valid_to: Nullable<Int>
  description: string | null
}

/** The lifecycle column values of a key, in {@link KEY_LIFECYCLE_COLUMNS} order. */
export function keyLifecycleValues(key: KeyRecord): Array<number | string | null> {
  return [
    key.rotationPeriodInDays ?? null,
    key.nextRotationDate ?? null,
    key.onDemandRotationStartDate ?? null,
    key.pendingKeyMaterialId ?? null,
    key.expirationModel ?? null,
    key.validTo ?? null,
  ]
}

/** The lifecycle fields of a key read from its row; absent columns stay absent. */
export function keyLifecycleFields(r: KeyLifecycleRow, int: (v: Int) => number): Partial<KeyRecord> {
  return {
    ...(r.rotation_period_in_days === null ? {} : { rotationPeriodInDays: int(r.rotation_period_in_days) }),
    ...(r.next_rotation_date === null ? {} : { nextRotationDate: int(r.next_rotation_date) }),
    ...(r.on_demand_rotation_start_date === null ? {} : { onDemandRotationStartDate: int(r.on_demand_rotation_start_date) }),
    ...(r.pending_key_material_id === null ? {} : { pendingKeyMaterialId: r.pending_key_material_id }),
    ...(r.expiration_model === null ? {} : { expirationModel: r.expiration_model as ExpirationModel }),
    ...(r.valid_to === null ? {} : { validTo: int(r.valid_to) }),
  }
}

/** The column values of a material, in {@link MATERIAL_COLUMNS} order; `bytes` adapts the EKT for the driver. */
export function materialValues(m: KeyMaterialRecord, bytes: (b: Uint8Array) => Uint8Array): unknown[] {
  return [
    m.keyId,
    m.keyMaterialId,
    bytes(m.ekt),
    m.createdAt,
    m.rotationType ?? null,
    m.rotationDate ?? null,
    m.importState ?? null,
    m.expirationModel ?? null,
    m.validTo ?? null,
    m.description ?? null,
  ]
}

/** A material read from its row, its EKT copied so no caller holds a view into a driver's buffer. */
export function toMaterial(r: MaterialRow, int: (v: Int) => number): KeyMaterialRecord {
  return {
    keyId: r.key_id,
    keyMaterialId: r.key_material_id,
    ekt: new Uint8Array(r.ekt),
    createdAt: int(r.created_at),
    ...(r.rotation_type === null ? {} : { rotationType: r.rotation_type as RotationType }),
    ...(r.rotation_date === null ? {} : { rotationDate: int(r.rotation_date) }),
    ...(r.import_state === null ? {} : { importState: r.import_state as 'IMPORTED' | 'PENDING_IMPORT' }),
    ...(r.expiration_model === null ? {} : { expirationModel: r.expiration_model as ExpirationModel }),
    ...(r.valid_to === null ? {} : { validTo: int(r.valid_to) }),
    ...(r.description === null ? {} : { description: r.description }),
  }
}
