/**
 * The HL7 v2 codec: parse inbound messages (kept byte for byte), read values by HL7 path,
 * build outbound messages and acknowledgments. See connectors/hl7v2/README.md § Codec.
 */
export {
  ACK_CODES,
  type AckCode,
  type AckContent,
  type AckError,
  type AckOptions,
  buildAck,
  buildRejectAck,
  formatHl7Timestamp,
  HL7_ERROR_CODES,
  type Hl7ErrorCode,
} from './ack.js';
export { type Hl7BuilderOptions, type Hl7EncodedMessage, Hl7MessageBuilder } from './builder.js';
export { decodeBytes, encodeText, HL7_CHARSETS, type Hl7Charset, resolveCharset } from './charset.js';
export {
  DEFAULT_DELIMITERS,
  encodingCharacters,
  type EncodingCharactersNote,
  type Hl7Delimiters,
} from './delimiters.js';
export { escapeHl7, unescapeHl7 } from './escape.js';
export {
  HL7_NULL,
  type Hl7Header,
  type Hl7HierarchicDesignator,
  Hl7Message,
  type Hl7SegmentRef,
  parseHl7,
  type ParseHl7Options,
} from './message.js';
export { formatHl7Path, type Hl7Path, hl7Path, parseHl7Path, toHl7Path } from './path.js';
export { isSupportedHl7Version, SUPPORTED_HL7_VERSIONS, type SupportedHl7Version } from './versions.js';
