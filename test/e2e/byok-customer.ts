import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A key pair made by `openssl genpkey`: the private key as DER PKCS#8 and the public key as a PEM file. */
export interface CustomerKeyPair {
  pkcs8: Buffer
  publicPem: string
  publicDer: Buffer
  privatePem: string
}

/**
 * The customer side of BYOK with real tooling: the `openssl` command line makes and wraps key
 * material exactly as AWS's "Encrypt key material" instructions do, for each wrapping algorithm,
 * and checks what Trent does with it offline (signatures, MACs, shared secrets).
 */
export class Customer {
  readonly dir = mkdtempSync(join(tmpdir(), 'trent-byok-'))
  #n = 0

  /** Random bytes made by `openssl rand`, as AWS's instructions make symmetric (and HMAC) material. */
  material(bytes = 32): Buffer {
    const file = this.#file('material.bin')
    execFileSync('openssl', ['rand', '-out', file, String(bytes)])
    return readFileSync(file)
  }

  /**
   * A private key by `openssl genpkey` (e.g. `['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']`),
   * converted to DER PKCS#8 by `openssl pkcs8 -topk8 -outform DER -nocrypt` as AWS's instructions do.
   */
  keyPair(genpkeyArgs: readonly string[]): CustomerKeyPair {
    const privatePem = this.#file('private.pem')
    execFileSync('openssl', ['genpkey', ...genpkeyArgs, '-out', privatePem], { stdio: 'pipe' })
    const der = this.#file('private.der')
    execFileSync('openssl', ['pkcs8', '-topk8', '-inform', 'PEM', '-outform', 'DER', '-in', privatePem, '-out', der, '-nocrypt'])
    const publicPem = this.#file('public.pem')
    execFileSync('openssl', ['pkey', '-in', privatePem, '-pubout', '-out', publicPem])
    const publicDer = execFileSync('openssl', ['pkey', '-in', privatePem, '-pubout', '-outform', 'DER'])
    return { pkcs8: readFileSync(der), publicPem, publicDer, privatePem }
  }

  /** Wraps `material` under the DER public key GetParametersForImport returned. */
  wrap(publicKey: Uint8Array, algorithm: string, material: Buffer): Buffer {
    const pub = this.#file('wrapping-key.der')
    writeFileSync(pub, publicKey)
    const md = algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1'
    const materialFile = this.write(material)
    if (algorithm.startsWith('RSAES_OAEP')) return this.oaepEncrypt(pub, md, materialFile, ['-keyform', 'DER'])
    // RSA_AES_KEY_WRAP: an ephemeral AES-256 key under RSA-OAEP, then the material under AES key wrap with padding.
    const aesKey = this.#file('aes-key.bin')
    execFileSync('openssl', ['rand', '-out', aesKey, '32'])
    const wrapped = this.#file('wrapped-material.bin')
    execFileSync('openssl', ['enc', '-id-aes256-wrap-pad', '-K', readFileSync(aesKey).toString('hex'), '-iv', 'A65959A6', '-in', materialFile, '-out', wrapped])
    return Buffer.concat([this.oaepEncrypt(pub, md, aesKey, ['-keyform', 'DER']), readFileSync(wrapped)])
  }

  /** RSA-OAEP encryption (MGF1 with the same hash) of a file to a public key file, by `openssl pkeyutl`. */
  oaepEncrypt(publicKeyFile: string, md: 'sha1' | 'sha256', inputFile: string, keyform: readonly string[] = []): Buffer {
    const out = this.#file('rsa.bin')
    const oaep = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${md}`, '-pkeyopt', `rsa_mgf1_md:${md}`]
    execFileSync('openssl', ['pkeyutl', '-encrypt', '-in', inputFile, '-out', out, '-inkey', publicKeyFile, ...keyform, '-pubin', ...oaep])
    return readFileSync(out)
  }

  /** Whether `openssl` verifies a signature over a message with a PEM public key; `args` choose the scheme. */
  verifies(publicPem: string, message: Buffer, signature: Uint8Array, args: readonly string[]): boolean {
    try {
      execFileSync('openssl', [...args, '-verify', publicPem, '-signature', this.write(signature), this.write(message)], { stdio: 'pipe' })
      return true
    } catch {
      return false
    }
  }

  /** Whether `openssl pkeyutl` verifies an Ed25519 signature (pure EdDSA over the raw message). */
  verifiesEd25519(publicPem: string, message: Buffer, signature: Uint8Array): boolean {
    try {
      execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicPem, '-rawin', '-in', this.write(message), '-sigfile', this.write(signature)], { stdio: 'pipe' })
      return true
    } catch {
      return false
    }
  }

  /** HMAC-SHA256 of a message by `openssl dgst -mac HMAC`. */
  hmacSha256(key: Buffer, message: Buffer): Buffer {
    return execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary', this.write(message)])
  }

  /** ECDH shared secret of a private key and a peer public key, by `openssl pkeyutl -derive`. */
  derive(privatePem: string, peerPublicPem: string): Buffer {
    return execFileSync('openssl', ['pkeyutl', '-derive', '-inkey', privatePem, '-peerkey', peerPublicPem])
  }

  /** Writes bytes to a fresh file in the customer's directory and returns its path. */
  write(bytes: Uint8Array): string {
    const file = this.#file('data.bin')
    writeFileSync(file, bytes)
    return file
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }

  #file(name: string): string {
    return join(this.dir, `${++this.#n}-${name}`)
  }
}
