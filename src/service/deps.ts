import type { AuditSink } from '../audit/event.js'
import type { Clock } from '../core/clock.js'
import type { Hsm } from '../hsm/hsm.js'
import type { KeyRecord, Store } from '../store/store.js'
import type { KeyUsageTracker } from './key-usage.js'

/** What every operation runs against. Built once by the composition root. */
export interface ServiceDeps {
  store: Store
  hsm: Hsm
  clock: Clock
  region: string
  partition: string
  /** Where each request's audit record goes; none in unit tests that build deps by hand. */
  audit?: AuditSink
  /** Coalesces GetKeyLastUsage's writes; without it uses are not tracked. */
  keyUsage?: KeyUsageTracker
}

/** The authenticated caller of one request. */
export interface Caller {
  accountId: string
  principalArn: string
  accessKeyId: string
  /** Set when the access key belongs to an IAM user rather than the account root. */
  user?: { userName: string; userId: string }
  /**
   * Set for temporary credentials from STS AssumeRole: `principalArn` is then the session's
   * `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
   */
  role?: {
    roleName: string
    roleId: string
    roleArn: string
    sessionName: string
    sessionCreatedAt?: number
    /** The session policy passed to AssumeRole: the session may do only what it allows too. */
    sessionPolicy?: string
  }
  /**
   * The IAM user's or (for a role session) the role's tags, as read when the access key's signing
   * key was derived (`aws:PrincipalTag/<key>`); a tag change makes the verifier forget that key.
   */
  tags?: Readonly<Record<string, string>>
  /** The address the request came from (aws:SourceIp). */
  sourceIp?: string
  /** Filled in while the request runs; read afterwards by the audit trail and canaries. */
  trace?: RequestTrace
}

/** What one request touched, recorded as the service works. */
export interface RequestTrace {
  /** The KMS keys the request resolved, in order (ReEncrypt: source, then destination). */
  keys: KeyRecord[]
}

/** Records that the request being served resolved `key`. */
export function traceKey(caller: Caller, key: KeyRecord): KeyRecord {
  caller.trace?.keys.push(key)
  return key
}
