/** Builds a key ARN. */
export function keyArn(partition: string, region: string, account: string, keyId: string): string {
  return `arn:${partition}:kms:${region}:${account}:key/${keyId}`
}

/** Builds an alias ARN from an alias name that already starts with `alias/`. */
export function aliasArn(partition: string, region: string, account: string, aliasName: string): string {
  return `arn:${partition}:kms:${region}:${account}:${aliasName}`
}

/** The parts of a KMS ARN. */
export interface KmsArn {
  partition: string
  service: string
  region: string
  account: string
  /** `key/<id>` or `alias/<name>`. */
  resource: string
}

/** Parses `arn:partition:service:region:account:resource`; undefined when it is not of that shape. */
export function parseArn(arn: string): KmsArn | undefined {
  const parts = arn.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') return undefined
  const [, partition, service, region, account] = parts as [string, string, string, string, string]
  const resource = parts.slice(5).join(':')
  if (!partition || !service || !resource) return undefined
  return { partition, service, region, account, resource }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const MRK = /^mrk-[0-9a-f]{32}$/

/** True for a well-formed key id: a lowercase UUID, or `mrk-` and 32 hex digits. */
export function isKeyId(id: string): boolean {
  return UUID.test(id) || MRK.test(id)
}
