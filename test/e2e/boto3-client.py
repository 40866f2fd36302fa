#!/usr/bin/python3
"""Drives a Trent server with boto3 and prints a JSON summary for test/e2e/boto3.test.ts.

usage: boto3-client.py <endpoint-url>
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. The script checks nothing
itself; it records what boto3 returned (binary values as hex) and the test asserts on that.
Any unexpected exception ends it with a non-zero exit and a traceback on stderr.
"""
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client_error(fn):
    """Calls fn, which must raise ClientError; returns what the error carried."""
    try:
        fn()
    except ClientError as e:
        return {
            'code': e.response['Error']['Code'],
            'message': e.response['Error'].get('Message', ''),
            'status': e.response['ResponseMetadata']['HTTPStatusCode'],
            'operation': e.operation_name,
        }
    return {'code': None}


def main():
    endpoint = sys.argv[1]
    kms = boto3.client(
        'kms',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
        aws_secret_access_key=os.environ['AWS_SECRET_ACCESS_KEY'],
        # One attempt: an error must be the server's answer, not a retry's.
        config=Config(retries={'total_max_attempts': 1, 'mode': 'standard'}, connect_timeout=5, read_timeout=30),
    )
    out = {'boto3_version': boto3.__version__}

    created = kms.create_key(Description='boto3 key', Tags=[{'TagKey': 'team', 'TagValue': 'python'}])['KeyMetadata']
    key_id, key_arn = created['KeyId'], created['Arn']
    out['create_key'] = {
        'KeyId': key_id,
        'Arn': key_arn,
        'Description': created['Description'],
        'KeyState': created['KeyState'],
        'Enabled': created['Enabled'],
        'KeySpec': created['KeySpec'],
        'KeyUsage': created['KeyUsage'],
        'CreationDate': created['CreationDate'].isoformat(),
    }

    described = kms.describe_key(KeyId=key_arn)['KeyMetadata']
    out['describe_key'] = {
        'KeyId': described['KeyId'],
        'Arn': described['Arn'],
        'Description': described['Description'],
        'CreationDate': described['CreationDate'].isoformat(),
    }

    context = {'purpose': 'boto3', 'tenant': 'ünïcode ✓'}
    plaintext = b'boto3 plaintext \x00\x01\xfe\xff' + os.urandom(32)
    enc = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)
    dec = kms.decrypt(CiphertextBlob=enc['CiphertextBlob'], EncryptionContext=context)
    out['encrypt_decrypt'] = {
        'plaintext': plaintext.hex(),
        'encrypt_key_id': enc['KeyId'],
        'encryption_algorithm': enc['EncryptionAlgorithm'],
        'ciphertext_length': len(enc['CiphertextBlob']),
        'decrypt_key_id': dec['KeyId'],
        'decrypted': dec['Plaintext'].hex(),
    }

    dk = kms.generate_data_key(KeyId=key_arn, KeySpec='AES_256', EncryptionContext=context)
    dk_back = kms.decrypt(CiphertextBlob=dk['CiphertextBlob'], EncryptionContext=context, KeyId=key_arn)
    out['generate_data_key'] = {
        'key_id': dk['KeyId'],
        'plaintext': dk['Plaintext'].hex(),
        'decrypted': dk_back['Plaintext'].hex(),
    }

    other_arn = kms.create_key(Description='boto3 destination')['KeyMetadata']['Arn']
    re = kms.re_encrypt(
        CiphertextBlob=enc['CiphertextBlob'],
        SourceEncryptionContext=context,
        DestinationKeyId=other_arn,
        DestinationEncryptionContext={'purpose': 'moved'},
    )
    re_back = kms.decrypt(CiphertextBlob=re['CiphertextBlob'], EncryptionContext={'purpose': 'moved'})
    out['re_encrypt'] = {
        'destination_arn': other_arn,
        'source_key_id': re['SourceKeyId'],
        'key_id': re['KeyId'],
        'decrypt_key_id': re_back['KeyId'],
        'decrypted': re_back['Plaintext'].hex(),
    }

    # Five more keys so that a Limit of 2 needs several pages.
    for i in range(5):
        kms.create_key(Description='page %d' % i)
    pages = []
    marker = None
    while True:
        kwargs = {'Limit': 2}
        if marker is not None:
            kwargs['Marker'] = marker
        page = kms.list_keys(**kwargs)
        pages.append({
            'key_ids': [k['KeyId'] for k in page['Keys']],
            'key_arns': [k['KeyArn'] for k in page['Keys']],
            'truncated': page['Truncated'],
            'next_marker': page.get('NextMarker'),
        })
        marker = page.get('NextMarker')
        if not marker or len(pages) > 100:
            break
    paginated = []
    for page in kms.get_paginator('list_keys').paginate(PaginationConfig={'PageSize': 3}):
        paginated.extend(k['KeyId'] for k in page['Keys'])
    out['list_keys'] = {'pages': pages, 'paginator_key_ids': paginated}

    signer = kms.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY')['KeyMetadata']
    message = b'release 1.2.3 by boto3'
    signature = kms.sign(KeyId=signer['Arn'], Message=message, MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256')
    public = kms.get_public_key(KeyId=signer['KeyId'])
    verified = kms.verify(KeyId=signer['KeyId'], Message=message, MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256',
                          Signature=signature['Signature'])
    out['sign_verify'] = {
        'key_spec': signer['KeySpec'],
        'signing_algorithms': signer['SigningAlgorithms'],
        'message': message.hex(),
        'signature': signature['Signature'].hex(),
        'public_key': public['PublicKey'].hex(),
        'public_key_usage': public['KeyUsage'],
        'signature_valid': verified['SignatureValid'],
        'tampered': client_error(lambda: kms.verify(
            KeyId=signer['KeyId'], Message=message + b'!', MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256',
            Signature=signature['Signature'])),
    }

    mac_key = kms.create_key(KeySpec='HMAC_256', KeyUsage='GENERATE_VERIFY_MAC')['KeyMetadata']
    mac = kms.generate_mac(KeyId=mac_key['KeyId'], Message=b'boto3 mac', MacAlgorithm='HMAC_SHA_256')
    out['mac'] = {
        'mac_algorithms': mac_key['MacAlgorithms'],
        'length': len(mac['Mac']),
        'valid': kms.verify_mac(KeyId=mac_key['KeyId'], Message=b'boto3 mac', MacAlgorithm='HMAC_SHA_256', Mac=mac['Mac'])['MacValid'],
        'wrong': client_error(lambda: kms.verify_mac(
            KeyId=mac_key['KeyId'], Message=b'boto3 mac?', MacAlgorithm='HMAC_SHA_256', Mac=mac['Mac'])),
    }

    kms.enable_key_rotation(KeyId=key_id)
    enabled = kms.get_key_rotation_status(KeyId=key_id)['KeyRotationEnabled']
    kms.disable_key_rotation(KeyId=key_id)
    out['rotation'] = {
        'enabled': enabled,
        'after_disable': kms.get_key_rotation_status(KeyId=key_id)['KeyRotationEnabled'],
        'asymmetric': client_error(lambda: kms.enable_key_rotation(KeyId=signer['KeyId'])),
    }

    out['errors'] = {
        'bad_key_id': client_error(lambda: kms.describe_key(KeyId='fake-key-id')),
        'missing_key': client_error(lambda: kms.encrypt(KeyId='00000000-0000-4000-8000-000000000000', Plaintext=b'x')),
        'wrong_context': client_error(
            lambda: kms.decrypt(CiphertextBlob=enc['CiphertextBlob'], EncryptionContext={'purpose': 'other'})
        ),
    }

    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
