/**
 * The protocols profiles are written for, by the name a profile's `protocol` gives: the only
 * place that lists them. Adding one is a file implementing ProtocolMapping and a line here.
 */
import type { Protocol } from '../compile/schema.js';
import { fhirR4 } from './fhir-r4.js';
import { hl7v2 } from './hl7v2.js';
import type { ProtocolMapping } from './protocol.js';

export type {
  CompileContext,
  LeafCheck,
  MappingInput,
  ProtocolCompiler,
  ProtocolMapping,
} from './protocol.js';

export const PROTOCOL_MAPPINGS: Readonly<Record<Protocol, ProtocolMapping>> = {
  hl7v2,
  'fhir-r4': fhirR4,
};

export function protocolMapping(protocol: Protocol): ProtocolMapping {
  return PROTOCOL_MAPPINGS[protocol];
}
