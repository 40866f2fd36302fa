import { KmsError } from '../core/errors.js'

/** Ends a request that would have succeeded but asked for a dry run, with AWS's wording. */
export function dryRunSucceeded(): never {
  throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.')
}
