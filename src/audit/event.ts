/**
 * One audit record, shaped like a CloudTrail event for AWS KMS (CloudTrail record contents, event
 * version 1.11). Only what the API allows to be logged goes in: never plaintext, ciphertext, data
 * keys, private keys, secrets, signatures, MACs or tokens.
 */
export interface AuditEvent {
  eventVersion: string
  userIdentity: UserIdentity
  /** Completion time, UTC ISO 8601 to the second (`2026-01-02T03:04:05Z`). */
  eventTime: string
  /** `kms.amazonaws.com`, or `iam.amazonaws.com` / `sts.amazonaws.com` for the query API. */
  eventSource: string
  eventName: string
  awsRegion: string
  /** The caller's address, or `AWS Internal` for events Trent starts itself. */
  sourceIPAddress: string
  userAgent?: string
  errorCode?: string
  errorMessage?: string
  requestParameters: Record<string, unknown> | null
  responseElements: Record<string, unknown> | null
  additionalEventData?: Record<string, unknown>
  requestID?: string
  eventID: string
  readOnly: boolean
  resources?: AuditResource[]
  eventType: 'AwsApiCall' | 'AwsServiceEvent'
  managementEvent: true
  recipientAccountId: string
  eventCategory: 'Management'
  serviceEventDetails?: Record<string, unknown>
}

/** Who made the request (`type` Root, IAMUser, AssumedRole; Unknown when it did not authenticate). */
export interface UserIdentity {
  type: string
  principalId?: string
  arn?: string
  accountId?: string
  accessKeyId?: string
  userName?: string
  sessionContext?: {
    sessionIssuer: { type: 'Role'; principalId: string; arn: string; accountId: string; userName: string }
    attributes: { creationDate?: string; mfaAuthenticated: 'false' }
  }
  /** `AWS Internal` on service events. */
  invokedBy?: string
}

/** A KMS key the event touched. */
export interface AuditResource {
  accountId: string
  type: 'AWS::KMS::Key'
  ARN: string
}

/** The CloudTrail event version the records follow. */
export const EVENT_VERSION = '1.11'

/** A time as CloudTrail writes it: ISO 8601 UTC to the second. */
export function cloudTrailTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`
}

/** Where records go. {@link append} resolves once the record is durable, and rejects if it cannot be made so. */
export interface AuditSink {
  append(event: AuditEvent): Promise<void>
  /** Whether records can be written now; `reason` says why not. */
  health(): { ok: true } | { ok: false; reason: string }
  /** Seals what was written so far into a signed digest (done periodically and at close). */
  seal(): Promise<void>
  /** Writes what is pending, seals, and closes. */
  close(): Promise<void>
  /** The records written so far, newest first, with their sequence numbers. */
  recordsNewestFirst(): Iterable<{ sequence: number; event: AuditEvent }>
}

/**
 * The sink of `--audit off`: writes nothing. For benchmarking the cost of the trail only; a
 * server running with it keeps no audit trail at all.
 */
export const noopSink: AuditSink = {
  append: () => Promise.resolve(),
  health: () => ({ ok: true }),
  seal: () => Promise.resolve(),
  close: () => Promise.resolve(),
  recordsNewestFirst: () => [],
}
