import { KmsError } from './errors.js'

/**
 * A tiny model of the AWS service shapes: enough to parse a JSON 1.1 request body into typed input
 * and to report violations with AWS's own wording
 * ("1 validation error detected: Value 'x' at 'keyId' failed to satisfy constraint: ...").
 */
export type Shape =
  | StringShape
  | IntegerShape
  | BooleanShape
  | BlobShape
  | TimestampShape
  | ListShape<Shape>
  | MapShape
  | StructureShape<Members>

export interface StringShape<E extends string = string> {
  readonly type: 'string'
  readonly min?: number
  readonly max?: number
  readonly pattern?: RegExp
  readonly enum?: readonly E[]
}
export interface IntegerShape {
  readonly type: 'integer'
  readonly min?: number
  readonly max?: number
}
export interface BooleanShape {
  readonly type: 'boolean'
}
/** Base64 on the wire, bytes in the parsed input. Sensitive blobs are never echoed in errors. */
export interface BlobShape {
  readonly type: 'blob'
  readonly min?: number
  readonly max?: number
}
/** Epoch seconds (possibly fractional) on the wire, as the SDKs send timestamps in JSON 1.1; milliseconds in the parsed input. */
export interface TimestampShape {
  readonly type: 'timestamp'
}
export interface ListShape<M extends Shape> {
  readonly type: 'list'
  readonly member: M
  readonly min?: number
  readonly max?: number
}
export interface MapShape {
  readonly type: 'map'
  readonly key: StringShape
  readonly value: StringShape
}
export interface Member<S extends Shape = Shape> {
  readonly shape: S
  readonly required?: boolean
}
export type Members = Readonly<Record<string, Member>>
export interface StructureShape<M extends Members> {
  readonly type: 'structure'
  readonly members: M
}

/** The parsed value of a shape. */
export type Infer<S> = S extends StringShape<infer E>
  ? E
  : S extends IntegerShape
    ? number
    : S extends BooleanShape
      ? boolean
      : S extends BlobShape
        ? Uint8Array
        : S extends TimestampShape
        ? number
        : S extends ListShape<infer M>
          ? Array<Infer<M>>
          : S extends MapShape
            ? Record<string, string>
            : S extends StructureShape<infer M>
              ? InferMembers<M>
              : never

type RequiredKeys<M extends Members> = { [K in keyof M]: M[K]['required'] extends true ? K : never }[keyof M]
type OptionalKeys<M extends Members> = Exclude<keyof M, RequiredKeys<M>>
type InferMembers<M extends Members> = { [K in RequiredKeys<M>]: Infer<M[K]['shape']> } & {
  [K in OptionalKeys<M>]?: Infer<M[K]['shape']>
}

/** Shape constructors. */
export const t = {
  string: <const E extends string = string>(o: Omit<StringShape<E>, 'type'> = {}): StringShape<E> => ({ type: 'string', ...o }),
  enum: <const E extends string>(values: readonly E[]): StringShape<E> => ({ type: 'string', enum: values }),
  integer: (o: Omit<IntegerShape, 'type'> = {}): IntegerShape => ({ type: 'integer', ...o }),
  boolean: (): BooleanShape => ({ type: 'boolean' }),
  blob: (o: Omit<BlobShape, 'type'> = {}): BlobShape => ({ type: 'blob', ...o }),
  timestamp: (): TimestampShape => ({ type: 'timestamp' }),
  list: <M extends Shape>(member: M, o: Omit<ListShape<M>, 'type' | 'member'> = {}): ListShape<M> => ({ type: 'list', member, ...o }),
  map: (key: StringShape = { type: 'string' }, value: StringShape = { type: 'string' }): MapShape => ({ type: 'map', key, value }),
  structure: <const M extends Members>(members: M): StructureShape<M> => ({ type: 'structure', members }),
  required: <S extends Shape>(shape: S): Member<S> & { required: true } => ({ shape, required: true }),
  optional: <S extends Shape>(shape: S): Member<S> => ({ shape }),
}

/**
 * Decodes strict, padded base64, or returns undefined. Node's decoder skips bad characters, so the
 * result is encoded again and compared: that is also far cheaper than a regular expression over a
 * 4 KiB plaintext on the Encrypt path.
 */
function decodeBase64(value: string): Uint8Array | undefined {
  if (value.length % 4 !== 0) return undefined
  const buffer = Buffer.from(value, 'base64')
  if (buffer.toString('base64') !== value) return undefined
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).slice()
}

function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1)
}

function typeName(v: unknown): string {
  if (v === null) return 'NULL_VALUE'
  if (Array.isArray(v)) return 'START_ARRAY'
  switch (typeof v) {
    case 'string':
      return 'STRING_VALUE'
    case 'number':
      return Number.isInteger(v) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT'
    case 'boolean':
      return v ? 'VALUE_TRUE' : 'VALUE_FALSE'
    default:
      return 'START_OBJECT'
  }
}

class Parser {
  readonly errors: string[] = []

  violation(value: unknown, path: string, constraint: string, echo: boolean): void {
    const shown = echo ? (value === null ? 'null ' : `'${String(value)}' `) : ''
    this.errors.push(`Value ${shown}at '${path}' failed to satisfy constraint: ${constraint}`)
  }

  parse(shape: Shape, value: unknown, path: string): unknown {
    switch (shape.type) {
      case 'string': {
        if (typeof value !== 'string') throw serialization(value, 'String')
        // Lengths count UTF-16 code units in AWS's Java front end; so does JavaScript.
        if (shape.min !== undefined && value.length < shape.min) this.violation(value, path, `Member must have length greater than or equal to ${shape.min}`, true)
        if (shape.max !== undefined && value.length > shape.max) this.violation(value, path, `Member must have length less than or equal to ${shape.max}`, true)
        if (shape.pattern && !shape.pattern.test(value)) this.violation(value, path, `Member must satisfy regular expression pattern: ${shape.pattern.source}`, true)
        if (shape.enum && !shape.enum.includes(value)) this.violation(value, path, `Member must satisfy enum value set: [${shape.enum.join(', ')}]`, true)
        return value
      }
      case 'integer': {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(value, 'Integer')
        if (shape.min !== undefined && value < shape.min) this.violation(value, path, `Member must have value greater than or equal to ${shape.min}`, true)
        if (shape.max !== undefined && value > shape.max) this.violation(value, path, `Member must have value less than or equal to ${shape.max}`, true)
        return value
      }
      case 'boolean':
        if (typeof value !== 'boolean') throw serialization(value, 'Boolean')
        return value
      case 'timestamp':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw serialization(value, 'Timestamp')
        return Math.round(value * 1000)
      case 'blob': {
        const bytes = typeof value === 'string' ? decodeBase64(value) : undefined
        if (!bytes) throw new KmsError('SerializationException', `Could not parse '${path}' as a base64-encoded blob`)
        // Blobs carry plaintext or ciphertext: AWS does not echo them, neither do we.
        if (shape.min !== undefined && bytes.length < shape.min) this.violation(value, path, `Member must have length greater than or equal to ${shape.min}`, false)
        if (shape.max !== undefined && bytes.length > shape.max) this.violation(value, path, `Member must have length less than or equal to ${shape.max}`, false)
        return bytes
      }
      case 'list': {
        if (!Array.isArray(value)) throw serialization(value, 'List')
        if (shape.min !== undefined && value.length < shape.min) this.violation(`[${value.join(', ')}]`, path, `Member must have length greater than or equal to ${shape.min}`, true)
        if (shape.max !== undefined && value.length > shape.max) this.violation(`[${value.join(', ')}]`, path, `Member must have length less than or equal to ${shape.max}`, true)
        return value.map((v, i) => this.parse(shape.member, v, `${path}.${i + 1}.member`))
      }
      case 'map': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw serialization(value, 'Map')
        const out: Record<string, string> = Object.create(null)
        for (const [k, v] of Object.entries(value)) {
          this.parse(shape.key, k, `${path}.key`)
          out[k] = this.parse(shape.value, v, `${path}.${k}.member`) as string
        }
        return out
      }
      case 'structure': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw serialization(value, 'Structure')
        const input = value as Record<string, unknown>
        const out: Record<string, unknown> = {}
        for (const [name, member] of Object.entries(shape.members)) {
          const memberPath = path ? `${path}.${lowerCamel(name)}` : lowerCamel(name)
          // JSON null is how AWS SDKs omit a member; treat it as absent.
          const v = Object.hasOwn(input, name) ? input[name] : undefined
          if (v === undefined || v === null) {
            if (member.required) this.violation(null, memberPath, 'Member must not be null', true)
            continue
          }
          out[name] = this.parse(member.shape, v, memberPath)
        }
        return out
      }
    }
  }
}

function serialization(value: unknown, expected: string): KmsError {
  return new KmsError('SerializationException', `${typeName(value)} can not be converted to ${expected === 'Integer' ? 'an' : 'a'} ${expected}`)
}

/**
 * Parses an already JSON-decoded request body against a structure shape. Throws
 * `SerializationException` for values of the wrong JSON type and `ValidationException` listing
 * every constraint violation, as AWS does.
 */
export function parseInput<M extends Members>(shape: StructureShape<M>, body: unknown): InferMembers<M> {
  const p = new Parser()
  const out = p.parse(shape, body, '') as InferMembers<M>
  if (p.errors.length > 0) {
    const n = p.errors.length
    throw new KmsError('ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${p.errors.join('; ')}`)
  }
  return out
}
