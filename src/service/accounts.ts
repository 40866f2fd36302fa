import { generateAccessKeyPair, type AccessKeyPair, type KmsService } from './kms-service.js'

/** Why {@link createAccount} refused. */
export class AccountExistsError extends Error {
  constructor(accountId: string) {
    super(`account ${accountId} already has credentials`)
    this.name = 'AccountExistsError'
  }
}

/**
 * Creates a further account (administrators only, `trent admin create-account`): an access key of
 * its root user, the secret wrapped by the HSM, returned once. Refuses an account that already has
 * root credentials (`hasRootCredential` asks the store; the bootstrap account has them from its
 * first start). The domain must already be loaded into the service's HSM.
 */
export async function createAccount(
  service: KmsService,
  accountId: string,
  hasRootCredential: (accountId: string) => Promise<boolean>,
): Promise<AccessKeyPair> {
  if (!/^\d{12}$/.test(accountId)) throw new Error(`invalid account id ${accountId} (12 digits)`)
  if (await hasRootCredential(accountId)) throw new AccountExistsError(accountId)
  for (let attempt = 0; attempt < 3; attempt++) {
    const pair = generateAccessKeyPair()
    // False only for an access key id that exists: draw another.
    if (await service.addCredential(accountId, pair)) return pair
  }
  throw new Error('could not store a new access key')
}
