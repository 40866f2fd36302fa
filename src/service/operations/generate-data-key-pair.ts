import { t } from '../../core/shape.js'
import { dataKeyPairWithPlaintextMembers, generateDataKeyPair as makeDataKeyPair } from '../data-key-pair.js'
import { defineOperation } from '../operation.js'

export const generateDataKeyPair = defineOperation({
  name: 'GenerateDataKeyPair',
  input: t.structure(dataKeyPairWithPlaintextMembers),
  run: (deps, caller, input) => makeDataKeyPair(deps, caller, input, 'GenerateDataKeyPair', true),
})
