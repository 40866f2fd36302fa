import { createHash, createPublicKey, type Hash } from 'node:crypto'
import { constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { open, rename, rm, statfs, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { cloudTrailTime, type AuditEvent, type AuditSink } from './event.js'
import {
  completeLines,
  digestName,
  encodeRecord,
  fingerprint,
  listTrail,
  PUBLIC_KEY_FILE,
  readSegment,
  segmentName,
  sha256Hex,
  signatureName,
  ZERO_HASH,
  type Digest,
  type DigestLogFile,
  type TrailRecord,
} from './format.js'
import { readRecordsNewestFirst } from './query.js'

/** Signs digests: the audit key lives in the HSM; this holds only its wrapped form and public key. */
export interface DigestSigner {
  /** SPKI DER of the verifying key. */
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Promise<Uint8Array>
}

/** The two HSM commands the trail needs (structurally the Hsm's; audit does not import hsm). */
export interface AuditKeyHsm {
  createAuditSigningKey(): Promise<{ wrappedKey: Uint8Array; publicKey: Uint8Array }>
  signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<{ signature: Uint8Array; publicKey: Uint8Array }>
}

const WRAPPED_KEY_FILE = 'signing-key.wrapped'
/** Group commits written at the same time (each a write that returns once durable). */
const MAX_IN_FLIGHT = 3
/**
 * Zero bytes written ahead of the records of the live segment. An O_DSYNC write that grows the
 * file must also make its new size durable (a journal commit: two more disk round trips on a
 * virtual disk); one into space already written only syncs its data. Sealing cuts the rest off.
 */
const RESERVE_BYTES = 4 * 1024 * 1024
/**
 * A segment this large is sealed at once, whatever the digest interval: every reader (the server's
 * recovery at start among them) reads a segment as one string, which V8 caps at ~512 MiB, and one
 * hour at 10,000 requests a second would write ~40 GiB.
 */
const MAX_SEGMENT_BYTES = 64 * 1024 * 1024
/**
 * The next segment, made ahead of time: a file of zero bytes, written durably in the background
 * and renamed into place when a segment begins. Space reserved in the live segment itself costs the
 * records written meanwhile: their O_DSYNC writes must then also commit the journal transaction
 * that allocated it (ext4 tracks this per file), a stall of about 10 ms per 4 MiB under load.
 * Space in another file does not. Not a segment name, so every reader passes it by.
 */
const SPARE_FILE = 'spare-segment'
/** Spares are written in chunks this large, each durable before the next. */
const SPARE_CHUNK = 1024 * 1024
/** A spare is made only while the file system has this many times its size free. */
const SPARE_FREE_FACTOR = 4

/**
 * The digest signer of a trail directory: creates the audit signing key in the HSM on first use
 * and keeps it only wrapped (`signing-key.wrapped`), with its public key in `public-key.pem`.
 * Every signature is checked to come from that public key.
 */
export async function openDigestSigner(dir: string, hsm: AuditKeyHsm): Promise<DigestSigner> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const wrappedFile = join(dir, WRAPPED_KEY_FILE)
  const pemFile = join(dir, PUBLIC_KEY_FILE)
  let wrappedKey: Uint8Array
  let publicKey: Uint8Array
  if (existsSync(wrappedFile)) {
    wrappedKey = new Uint8Array(readFileSync(wrappedFile))
    publicKey = new Uint8Array(createPublicKey(readFileSync(pemFile, 'utf8')).export({ format: 'der', type: 'spki' }))
  } else {
    ;({ wrappedKey, publicKey } = await hsm.createAuditSigningKey())
    const pem = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' })
    writeFileSync(pemFile, pem, { mode: 0o644 })
    writeFileSync(wrappedFile, wrappedKey, { mode: 0o600 })
  }
  const expected = Buffer.from(publicKey)
  return {
    publicKey,
    async sign(message) {
      const signed = await hsm.signAuditDigest(wrappedKey, message)
      if (!expected.equals(signed.publicKey)) throw new Error(`the audit signing key does not match ${pemFile}`)
      return signed.signature
    },
  }
}

/** Options of {@link FileTrail.open}. */
export interface FileTrailOptions {
  /** The trail directory (`<data-dir>/audit`). */
  dir: string
  signer: DigestSigner
  clock: Clock
  /** How often a digest is sealed. Default one hour. */
  digestIntervalMs?: number
  /** How soon a failed write is tried again. Default 1 s. */
  retryMs?: number
  /** Most records held while the disk refuses writes; later ones are counted as lost. Default 100 000. */
  maxPending?: number
  log?: (message: string) => void
  /** Test hook, called before every write: throwing stands for a failed write (ENOSPC, EIO). */
  beforeWrite?: () => void
  /** A segment that reaches this size is sealed by a digest at once. Default 64 MiB. */
  maxSegmentBytes?: number
}

interface Pending {
  event: AuditEvent
  /** Unset once the caller was answered (the record then waits for a later successful write). */
  settle?: (error?: Error) => void
}

/** A segment written since the last digest. */
interface OpenSegment {
  index: number
  name: string
  handle?: FileHandle
  /** Bytes durable. */
  size: number
  /** Bytes durable or being written. */
  issuedSize: number
  /** Length of the file: records, then zero bytes reserved for the next ones. */
  reserved: number
  /** Zero bytes being written from `reservingFrom`; writes that reach them wait for it. */
  reserving?: Promise<void>
  reservingFrom: number
  /** Size at which the segment is sealed (moved on after a seal that failed). */
  sealAt: number
  /** Sealed because it filled its space, not by the clock. */
  full?: true
  hash: Hash
  firstSequence: number
  lastSequence: number
  lastRecordHash: string
  oldestEventTime: string
  newestEventTime: string
}

/**
 * The audit trail of one node: append-only, hash-chained JSON-lines segments under `dir`, sealed by
 * signed digests (see format.ts).
 *
 * Durability: {@link append} resolves only after the record is written to a segment opened with
 * O_DSYNC (the write returns once the data is on stable storage, as write + fdatasync would). Records
 * are written in group commits: those that arrive while one write+sync runs all go into the next.
 *
 * Failure: when a write fails the records stay queued and are written again every `retryMs`
 * (from the same file offset, so a partial write is overwritten); until one succeeds, appends are
 * rejected at once and {@link health} is not ok. A record whose caller was answered with
 * KMSInternalException meanwhile is still written later, marked in additionalEventData.
 */
export class FileTrail implements AuditSink {
  readonly #dir: string
  readonly #signer: DigestSigner
  readonly #clock: Clock
  readonly #retryMs: number
  readonly #maxPending: number
  readonly #log: (message: string) => void
  readonly #beforeWrite: (() => void) | undefined
  readonly #maxSegmentBytes: number
  #queue: Pending[] = []
  #flushQueued = false
  /** The last write or seal queued; they run one at a time. */
  #tail: Promise<void> = Promise.resolve()
  #failure: Error | undefined
  #lost = 0
  #retryTimer: NodeJS.Timeout | undefined
  #digestTimer: NodeJS.Timeout | undefined
  #closed = false
  #closing = false
  /** Position of the chain after the last record issued, and after the last one durable. */
  #sequence: number
  #lastHash: string
  #durable: { sequence: number; hash: string }
  /** Writes issued and not yet settled, oldest first; each resolves true if it and all before are durable. */
  #inFlight: Array<Promise<boolean>> = []
  #durableSoFar: Promise<boolean> = Promise.resolve(true)
  /** Records of failed writes, waiting for the last write in flight to settle before the retry. */
  #failed: Pending[] = []
  #segments: OpenSegment[]
  #nextSegment: number
  #digestIndex: number
  #previousDigest: { file: string; hash: string; signature: string } | undefined
  #digestStart: string
  /** The spare file's size once it is complete and durable. */
  #spare: number | undefined
  /** The spare being written, and the largest size asked for meanwhile. */
  #sparing: { done: Promise<void>; wanted: number } | undefined
  /** Size of the next spare: what the next segment is likely to need, judged at the last digest. */
  #nextSpareBytes = RESERVE_BYTES

  private constructor(options: FileTrailOptions, state: RecoveredState) {
    this.#dir = options.dir
    this.#signer = options.signer
    this.#clock = options.clock
    this.#retryMs = options.retryMs ?? 1000
    this.#maxPending = options.maxPending ?? 100_000
    this.#log = options.log ?? ((m) => process.stderr.write(`${m}\n`))
    this.#beforeWrite = options.beforeWrite
    this.#maxSegmentBytes = options.maxSegmentBytes ?? MAX_SEGMENT_BYTES
    this.#sequence = state.sequence
    this.#lastHash = state.lastHash
    this.#durable = { sequence: state.sequence, hash: state.lastHash }
    this.#segments = state.segments
    this.#nextSegment = state.nextSegment
    this.#digestIndex = state.digestIndex
    this.#previousDigest = state.previousDigest
    this.#digestStart = state.digestStart ?? cloudTrailTime(this.#clock.now())
  }

  /**
   * Opens (or creates) the trail in `options.dir`. A record torn by a crash (an unterminated last
   * line, never acknowledged) is cut off; records written since the last digest are sealed at once.
   */
  static async open(options: FileTrailOptions): Promise<FileTrail> {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 })
    await rm(join(options.dir, SPARE_FILE), { force: true })
    const state = await recover(options.dir)
    const trail = new FileTrail(options, state)
    for (const c of state.cut) trail.#log(`trent: the audit trail's unsealed records did not read back whole at start: ${c}`)
    if (trail.#segments.length > 0) await trail.seal()
    trail.#wantSpare(RESERVE_BYTES)
    const interval = options.digestIntervalMs ?? 3_600_000
    trail.#digestTimer = setInterval(() => {
      trail.seal().catch((e: unknown) => trail.#log(`trent: sealing an audit digest failed (retrying at the next interval): ${describe(e)}`))
    }, interval)
    trail.#digestTimer.unref()
    return trail
  }

  append(event: AuditEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new KmsError('KMSInternalException', 'the audit trail is closed'))
    if (this.#failure) {
      this.#hold(event)
      return Promise.reject(unavailable())
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, settle: (e) => (e ? reject(e) : resolve()) })
      this.#scheduleFlush()
    })
  }

  /** Size of the spare segment file when one is complete, else undefined. */
  get spareBytes(): number | undefined {
    return this.#spare
  }

  /** Records accepted and not yet written (the metrics endpoint's audit queue depth). */
  get queueDepth(): number {
    return this.#queue.length
  }

  health(): { ok: true } | { ok: false; reason: string } {
    if (!this.#failure) return { ok: true }
    const lost = this.#lost > 0 ? `; ${this.#lost} records could not be held` : ''
    return { ok: false, reason: `audit trail not writable: ${this.#failure.message} (${this.#queue.length} records waiting${lost})` }
  }

  recordsNewestFirst(): Iterable<TrailRecord> {
    return readRecordsNewestFirst(this.#dir)
  }

  seal(): Promise<void> {
    const run = this.#tail.then(() => this.#seal())
    this.#tail = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    if (this.#closed || this.#closing) return
    this.#closing = true
    clearInterval(this.#digestTimer)
    clearTimeout(this.#retryTimer)
    // One last attempt for records still waiting after a failure.
    if (this.#failure) this.#scheduleFlush()
    await this.#tail
    while (this.#inFlight.length > 0) await this.#inFlight.at(-1)
    await this.#sparing?.done
    await rm(join(this.#dir, SPARE_FILE), { force: true }).catch(() => undefined)
    this.#closed = true
    try {
      await this.#seal()
    } finally {
      for (const s of this.#segments) await s.handle?.close()
    }
  }

  /** Keeps a record whose caller was already refused, to write it once the disk works again. */
  #hold(event: AuditEvent): void {
    if (this.#queue.length >= this.#maxPending) {
      this.#lost++
      return
    }
    this.#queue.push({ event })
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    this.#tail = this.#tail.then(() => {
      this.#flushQueued = false
      return this.#flush()
    })
  }

  /**
   * Issues the queued records as one write. Up to {@link MAX_IN_FLIGHT} writes are in flight at a
   * time (each at its own offset), so the next group does not wait for the previous one's sync to
   * finish; but a group is acknowledged only once it and every group before it are durable, and
   * the in-memory chain state moves on only in that order. After a failure writes go one at a time.
   */
  async #flush(): Promise<void> {
    while (this.#inFlight.length >= (this.#failure ? 1 : MAX_IN_FLIGHT)) await this.#inFlight[0]
    const batch = this.#queue
    if (batch.length === 0) return
    this.#queue = []
    let sequence = this.#sequence
    let hash = this.#lastHash
    let text = ''
    for (const p of batch) {
      sequence++
      const line = encodeRecord(sequence, hash, p.event)
      hash = sha256Hex(line)
      text += `${line}\n`
    }
    const bytes = Buffer.from(text, 'utf8')
    const retry = this.#failure !== undefined
    let segment: OpenSegment | undefined
    let offset = 0
    let write: Promise<unknown>
    try {
      segment = await this.#currentSegment(this.#sequence + 1)
      offset = segment.issuedSize
      if (offset === 0) segment.oldestEventTime = batch[0]!.event.eventTime
      segment.issuedSize += bytes.length
      if (segment.reserving && segment.issuedSize > segment.reservingFrom) await segment.reserving
      // Not once records lie beyond the reserved space, nor while writes fail: on a nearly full
      // disk, zeros written past records that still need space would take the last of it.
      if (!this.#failure && !segment.reserving && offset <= segment.reserved && segment.issuedSize + RESERVE_BYTES / 2 > segment.reserved) {
        // A larger spare is ready: go on in it (a digest seals this segment) rather than grow this one.
        if ((this.#spare ?? 0) > segment.reserved) segment.sealAt = segment.issuedSize
        else this.#reserve(segment)
      }
      if (segment.issuedSize >= segment.sealAt) {
        segment.full = true
        // Runs once this write is issued; later records wait for it and go to a new segment.
        segment.sealAt = segment.issuedSize + this.#maxSegmentBytes
        this.seal().catch((e: unknown) => this.#log(`trent: sealing a full audit segment failed (the segment grows on): ${describe(e)}`))
      }
      this.#beforeWrite?.()
      const handle = segment.handle!
      // At an explicit offset: a retry after a partial write overwrites it, then trims what is left.
      write = handle.write(bytes, 0, bytes.length, offset).then(async ({ bytesWritten }) => {
        // A disk filling up mid-write writes part of the group: not durable, so not acknowledged.
        if (bytesWritten !== bytes.length) throw new Error(`short write to ${segment!.name} (${bytesWritten} of ${bytes.length} bytes)`)
        if (retry) {
          await handle.truncate(offset + bytes.length)
          await handle.datasync()
          segment!.reserved = offset + bytes.length
        }
      })
    } catch (e) {
      write = Promise.reject(e)
    }
    this.#sequence = sequence
    this.#lastHash = hash
    const previous = this.#durableSoFar
    const done: Promise<boolean> = Promise.allSettled([previous, write]).then(([before, written]) => {
      this.#inFlight.shift()
      const ok = before.status === 'fulfilled' && before.value && written.status === 'fulfilled' && segment !== undefined
      if (ok) this.#commit(batch, bytes, segment!, offset, sequence, hash)
      else this.#fail(batch, written.status === 'rejected' ? written.reason : undefined)
      return ok
    })
    this.#durableSoFar = done
    this.#inFlight.push(done)
  }

  /** A group is durable, and so is everything before it: move the chain on and answer its callers. */
  #commit(batch: Pending[], bytes: Uint8Array, segment: OpenSegment, offset: number, sequence: number, hash: string): void {
    segment.size = offset + bytes.length
    segment.hash.update(bytes)
    segment.lastSequence = sequence
    segment.lastRecordHash = hash
    segment.newestEventTime = batch[batch.length - 1]!.event.eventTime
    this.#durable = { sequence, hash }
    if (this.#failure) this.#log(`trent: the audit trail is writable again (${batch.length} waiting records written)`)
    this.#failure = undefined
    for (const p of batch) p.settle?.()
  }

  /**
   * A group failed (or one before it did): its callers are answered with KMSInternalException and
   * its records wait, in order, for a retry from the last durable position.
   */
  #fail(batch: Pending[], reason: unknown): void {
    if (reason !== undefined) {
      const error = reason instanceof Error ? reason : new Error(String(reason))
      if (!this.#failure) this.#log(`trent: writing the audit trail failed; refusing requests until it works again: ${describe(error)}`)
      this.#failure = error
    }
    for (const p of batch) {
      if (p.settle) {
        p.event.additionalEventData = { ...p.event.additionalEventData, responseReplacedBy: 'KMSInternalException' }
        p.settle(unavailable())
        delete p.settle
      }
    }
    this.#failed.push(...batch)
    if (this.#inFlight.length > 0) return
    // The last write in flight has settled: start over from what is durable.
    this.#queue = [...this.#failed, ...this.#queue]
    this.#failed = []
    this.#sequence = this.#durable.sequence
    this.#lastHash = this.#durable.hash
    for (const s of this.#segments) s.issuedSize = s.size
    this.#durableSoFar = Promise.resolve(true)
    clearTimeout(this.#retryTimer)
    if (this.#closing) return
    this.#retryTimer = setTimeout(() => this.#scheduleFlush(), this.#retryMs)
    this.#retryTimer.unref()
  }

  /** The segment records go to now, created with the first record after a seal. */
  async #currentSegment(firstSequence: number): Promise<OpenSegment> {
    let segment = this.#segments.at(-1)
    if (!segment) {
      const index = this.#nextSegment++
      const now = cloudTrailTime(this.#clock.now())
      segment = {
        index,
        name: segmentName(index),
        size: 0,
        issuedSize: 0,
        reserved: 0,
        reservingFrom: 0,
        sealAt: this.#maxSegmentBytes,
        hash: createHash('sha256'),
        firstSequence,
        lastSequence: firstSequence - 1,
        lastRecordHash: this.#lastHash,
        oldestEventTime: now,
        newestEventTime: now,
      }
      this.#segments.push(segment)
      if (this.#spare !== undefined) {
        const size = this.#spare
        this.#spare = undefined
        try {
          await rename(join(this.#dir, SPARE_FILE), join(this.#dir, segment.name))
          segment.reserved = size
        } catch {
          // Gone from under us: the segment is created empty below.
        }
      }
      this.#wantSpare(this.#nextSpareBytes)
    }
    if (!segment.handle) {
      // O_DSYNC: each write returns once its bytes are durable, one system call per group commit
      // instead of write + fdatasync. Not O_APPEND: Linux ignores the offset of positional writes
      // to a file opened for appending.
      segment.handle = await open(join(this.#dir, segment.name), constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o600)
      // The new file's directory entry must be durable as well as its records.
      await syncDir(this.#dir)
    }
    return segment
  }

  /**
   * Writes zero bytes after the reserved space, so that the next records overwrite space the file
   * already has. Best effort: when it fails (a full disk), records are appended as before, and the
   * segment reserves no more (records then lie beyond the reserved space).
   */
  #reserve(segment: OpenSegment): void {
    // This segment outgrew the space it began with: the next one gets all a segment can hold.
    this.#wantSpare(this.#maxSpareBytes)
    const from = Math.max(segment.reserved, segment.issuedSize)
    segment.reservingFrom = from
    segment.reserving = segment.handle!.write(Buffer.alloc(RESERVE_BYTES), 0, RESERVE_BYTES, from).then(
      ({ bytesWritten }) => {
        segment.reserved = Math.max(segment.reserved, from + bytesWritten)
        delete segment.reserving
      },
      () => {
        delete segment.reserving
      },
    )
  }

  /**
   * Makes the spare file at least `size` bytes (extending one that is smaller), in the background.
   * Best effort: nothing is made while writes fail, once closing, or without room to spare; a spare
   * that cannot be completed is removed.
   */
  #wantSpare(size: number): void {
    if (this.#sparing) {
      this.#sparing.wanted = Math.max(this.#sparing.wanted, size)
      return
    }
    if ((this.#spare ?? 0) >= size || this.#failure || this.#closing) return
    const from = this.#spare ?? 0
    this.#spare = undefined
    const done = this.#writeSpare(from, size).then((written) => {
      const wanted = this.#sparing?.wanted ?? size
      this.#sparing = undefined
      if (!written) return
      this.#spare = size
      if (wanted > size) this.#wantSpare(wanted)
    })
    this.#sparing = { wanted: size, done }
  }

  /** Writes zero bytes `[from, size)` of the spare file durably; false (and no spare) if it could not. Never rejects. */
  async #writeSpare(from: number, size: number): Promise<boolean> {
    const path = join(this.#dir, SPARE_FILE)
    let handle: FileHandle | undefined
    let written = false
    try {
      const fs = await statfs(this.#dir)
      if (fs.bavail * fs.bsize < SPARE_FREE_FACTOR * size) return false
      // O_DSYNC: the space must be allocated on disk before records land in it.
      handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_DSYNC | (from === 0 ? constants.O_TRUNC : 0), 0o600)
      const zeros = Buffer.alloc(SPARE_CHUNK)
      for (let at = from; at < size; at += SPARE_CHUNK) {
        if (this.#failure || this.#closing) return false
        const length = Math.min(SPARE_CHUNK, size - at)
        if ((await handle.write(zeros, 0, length, at)).bytesWritten !== length) return false
      }
      written = true
      return true
    } catch {
      return false
    } finally {
      await handle?.close().catch(() => undefined)
      if (!written) await rm(path, { force: true }).catch(() => undefined)
    }
  }

  /** A whole segment and the space its last write may take past the sealing size. */
  get #maxSpareBytes(): number {
    return this.#maxSegmentBytes + RESERVE_BYTES
  }

  /** Cuts a segment's reserved zero bytes off, so that it ends with its last record. */
  async #trim(segment: OpenSegment): Promise<void> {
    await segment.reserving
    // The file's own length, not `reserved`: a reservation that failed half way wrote some zeros.
    if (!segment.handle || (await segment.handle.stat()).size <= segment.size) return
    await segment.handle.truncate(segment.size)
    await segment.handle.datasync()
    segment.reserved = segment.size
  }

  /** Seals the segments written since the last digest into a new signed digest. */
  async #seal(): Promise<void> {
    while (this.#inFlight.length > 0) await this.#inFlight.at(-1)
    // What a digest seals must be the segments' exact bytes.
    for (const s of this.#segments) await this.#trim(s)
    const { sequence, hash } = this.#durable
    const segments = this.#segments.filter((s) => s.lastSequence >= s.firstSequence)
    const index = this.#digestIndex + 1
    const file = digestName(index)
    const end = cloudTrailTime(this.#clock.now())
    const digest: Digest = {
      digestVersion: '1',
      digestFile: file,
      digestStartTime: this.#digestStart,
      digestEndTime: end,
      lastSequence: sequence,
      lastRecordHash: hash,
      logFiles: segments.map(logFileOf),
      previousDigestFile: this.#previousDigest?.file ?? null,
      previousDigestHashValue: this.#previousDigest?.hash ?? null,
      previousDigestHashAlgorithm: this.#previousDigest ? 'SHA-256' : null,
      previousDigestSignature: this.#previousDigest?.signature ?? null,
      digestPublicKeyFingerprint: fingerprint(this.#signer.publicKey),
      digestSignatureAlgorithm: 'Ed25519',
    }
    const bytes = Buffer.from(`${JSON.stringify(digest)}\n`, 'utf8')
    const signature = Buffer.from(await this.#signer.sign(bytes)).toString('hex')
    // The signature first: a digest file is never there without it.
    await writeDurably(this.#dir, signatureName(file), `${signature}\n`)
    await writeDurably(this.#dir, file, bytes)
    for (const s of this.#segments) await s.handle?.close()
    // A segment sealed because it filled its space says the load needs whole segments; one sealed by
    // the clock, twice what it held.
    const largest = Math.max(0, ...segments.map((s) => s.size))
    this.#nextSpareBytes = segments.some((s) => s.full) ? this.#maxSpareBytes : Math.min(Math.max(2 * largest, RESERVE_BYTES), this.#maxSpareBytes)
    this.#segments = []
    this.#digestIndex = index
    this.#previousDigest = { file, hash: sha256Hex(bytes), signature }
    this.#digestStart = end
  }
}

function logFileOf(s: OpenSegment): DigestLogFile {
  return {
    file: s.name,
    hashValue: s.hash.copy().digest('hex'),
    hashAlgorithm: 'SHA-256',
    firstSequence: s.firstSequence,
    lastSequence: s.lastSequence,
    lastRecordHash: s.lastRecordHash,
    oldestEventTime: s.oldestEventTime,
    newestEventTime: s.newestEventTime,
  }
}

interface RecoveredState {
  sequence: number
  lastHash: string
  segments: OpenSegment[]
  nextSegment: number
  digestIndex: number
  previousDigest: { file: string; hash: string; signature: string } | undefined
  digestStart: string | undefined
  /** Whole lines of unsealed segments that were not records, cut off with what followed them. */
  cut: string[]
}

/** Reads where the trail stands: the last digest, and the segments written after it. */
async function recover(dir: string): Promise<RecoveredState> {
  const { segments, digests } = listTrail(dir)
  const last = digests.at(-1)
  let sequence = 0
  let lastHash = ZERO_HASH
  let sealedThrough = 0
  let previousDigest: RecoveredState['previousDigest']
  let digestStart: string | undefined
  if (last) {
    const bytes = readFileSync(join(dir, last.name))
    const digest = JSON.parse(bytes.toString('utf8')) as Digest
    sequence = digest.lastSequence
    lastHash = digest.lastRecordHash
    sealedThrough = lastSealedIndex(dir, digests)
    previousDigest = { file: last.name, hash: sha256Hex(bytes), signature: readFileSync(join(dir, signatureName(last.name)), 'utf8').trim() }
    digestStart = digest.digestEndTime
  }
  const open: OpenSegment[] = []
  const cut: string[] = []
  let removedEmpty = false
  for (const s of segments.filter((s) => s.index > sealedThrough)) {
    const path = join(dir, s.name)
    const text = readSegment(path)
    const all = completeLines(text)
    // Cut at a torn line, or at a hole (writes run concurrently, so after a power loss a later one
    // may be on disk without an earlier one): nothing from there on was acknowledged, since a record
    // is acknowledged only once it and everything before it are durable.
    const bad = all.findIndex((line) => !isRecordLine(line))
    const lines = bad < 0 ? all : all.slice(0, bad)
    // A crash leaves a torn last line or zeros, never a whole line that is not a record: say so.
    if (bad >= 0) cut.push(`${s.name}: line ${bad + 1} is not a trail record; it and the ${all.length - bad - 1} line(s) after it were cut off`)
    if (lines.length === 0) {
      // Made but never written to (a crash between creating the segment, or renaming the spare into
      // place, and its first durable record): it holds nothing, and no digest will ever name it.
      await rm(path, { force: true })
      removedEmpty = true
      continue
    }
    const kept = `${lines.join('\n')}\n`
    if (Buffer.byteLength(kept) !== statSync(path).size) {
      const handle = await open_(path)
      await handle.truncate(Buffer.byteLength(kept))
      await handle.datasync()
      await handle.close()
    }
    const first = JSON.parse(lines[0]!) as TrailRecord
    const final = JSON.parse(lines[lines.length - 1]!) as TrailRecord
    sequence = final.sequence
    lastHash = sha256Hex(lines[lines.length - 1]!)
    open.push({
      index: s.index,
      name: s.name,
      size: Buffer.byteLength(kept),
      issuedSize: Buffer.byteLength(kept),
      reserved: Buffer.byteLength(kept),
      reservingFrom: 0,
      // Sealed as soon as the trail opens.
      sealAt: Number.POSITIVE_INFINITY,
      hash: createHash('sha256').update(kept),
      firstSequence: first.sequence,
      lastSequence: final.sequence,
      lastRecordHash: lastHash,
      oldestEventTime: first.event.eventTime,
      newestEventTime: final.event.eventTime,
    })
  }
  if (removedEmpty) await syncDir(dir)
  return {
    sequence,
    lastHash,
    segments: open,
    // Past every segment a digest names too: the oldest may have been pruned (`trent audit prune`).
    nextSegment: Math.max(sealedThrough, ...segments.map((s) => s.index)) + 1,
    digestIndex: last?.index ?? 0,
    previousDigest,
    digestStart,
    cut,
  }
}

function isRecordLine(line: string): boolean {
  try {
    return Number.isSafeInteger((JSON.parse(line) as Partial<TrailRecord> | null)?.sequence)
  } catch {
    return false
  }
}

/** The highest segment index any digest names. */
function lastSealedIndex(dir: string, digests: Array<{ name: string }>): number {
  let max = 0
  for (const d of digests) {
    const digest = JSON.parse(readFileSync(join(dir, d.name), 'utf8')) as Digest
    for (const f of digest.logFiles) max = Math.max(max, Number(/(\d+)/.exec(f.file)?.[1] ?? 0))
  }
  return max
}

const open_ = (path: string): Promise<FileHandle> => open(path, 'r+')

/** Writes a file so that it is complete and durable under its name (temporary file, sync, rename, sync dir). */
async function writeDurably(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`)
  await writeFile(tmp, data, { mode: 0o644, flush: true })
  await rename(tmp, join(dir, name))
  await syncDir(dir)
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function unavailable(): KmsError {
  return new KmsError('KMSInternalException', '')
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
