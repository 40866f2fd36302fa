import type { Infer, Members, StructureShape } from '../core/shape.js'
import type { Caller, ServiceDeps } from './deps.js'

/** One KMS operation: its input shape (validated at the edge) and its behaviour. */
export interface Operation<M extends Members = Members> {
  readonly name: string
  readonly input: StructureShape<M>
  run(deps: ServiceDeps, caller: Caller, input: Infer<StructureShape<M>>): Promise<object>
}

/** Declares an operation; the input type of `run` is inferred from the shape. */
export function defineOperation<const M extends Members>(op: Operation<M>): Operation<M> {
  return op
}
