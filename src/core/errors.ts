/**
 * AWS KMS exception names that Trent can return. The wire `__type` of an error is exactly its code.
 */
export type KmsErrorCode =
  | 'AlreadyExistsException'
  | 'ConflictException'
  | 'CustomKeyStoreNotFoundException'
  | 'DependencyTimeoutException'
  | 'DisabledException'
  | 'DryRunOperationException'
  | 'ExpiredImportTokenException'
  | 'IncorrectKeyMaterialException'
  | 'IncorrectKeyException'
  | 'InvalidAliasNameException'
  | 'InvalidArnException'
  | 'InvalidCiphertextException'
  | 'InvalidGrantIdException'
  | 'InvalidGrantTokenException'
  | 'InvalidImportTokenException'
  | 'InvalidKeyUsageException'
  | 'InvalidMarkerException'
  | 'InvalidNextTokenException'
  | 'InvalidTimeRangeException'
  | 'KMSInternalException'
  | 'KMSInvalidStateException'
  | 'KMSInvalidSignatureException'
  | 'KMSInvalidMacException'
  | 'LimitExceededException'
  | 'MalformedPolicyDocumentException'
  | 'NotFoundException'
  | 'TagException'
  | 'UnsupportedOperationException'
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'AccessDeniedException'
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'ExpiredTokenException'
  | 'RequestEntityTooLargeException'

/** HTTP status for codes that are not 400 (AWS sends 400 for every KMS client error). */
const STATUS: Partial<Record<KmsErrorCode, number>> = {
  KMSInternalException: 500,
  DependencyTimeoutException: 503,
  RequestEntityTooLargeException: 413,
}

/**
 * An error that is answered to the caller as an AWS JSON 1.1 error: `{"__type": code, "message"}`.
 * Anything thrown that is not a KmsError is our own fault and is answered as KMSInternalException
 * without its message.
 */
export class KmsError extends Error {
  override readonly name = 'KmsError'
  readonly code: KmsErrorCode

  constructor(code: KmsErrorCode, message = '') {
    super(message)
    this.code = code
  }

  /** HTTP status this error is sent with. */
  get status(): number {
    return STATUS[this.code] ?? 400
  }
}

/** True when `e` is a KmsError with the given code (or any code when none is given). */
export function isKmsError(e: unknown, code?: KmsErrorCode): e is KmsError {
  return e instanceof KmsError && (code === undefined || e.code === code)
}
