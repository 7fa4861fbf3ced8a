/**
 * The HL7 v2 codec: parse inbound messages (kept byte for byte), read values by HL7 path,
 * build outbound messages and acknowledgments. See connectors/hl7v2/README.md § Codec.
 */
export { type Hl7Path, formatHl7Path, hl7Path, parseHl7Path, toHl7Path } from './path.js';
export { DEFAULT_DELIMITERS, type EncodingCharactersNote, type Hl7Delimiters, encodingCharacters } from './delimiters.js';
export { HL7_CHARSETS, type Hl7Charset, decodeBytes, encodeText, resolveCharset } from './charset.js';
export { escapeHl7, unescapeHl7 } from './escape.js';
export {
  HL7_NULL,
  type Hl7Header,
  type Hl7HierarchicDesignator,
  Hl7Message,
  type Hl7SegmentRef,
  type ParseHl7Options,
  parseHl7,
} from './message.js';
export { type Hl7BuilderOptions, type Hl7EncodedMessage, Hl7MessageBuilder } from './builder.js';
export {
  ACK_CODES,
  type AckCode,
  type AckContent,
  type AckError,
  type AckOptions,
  HL7_ERROR_CODES,
  type Hl7ErrorCode,
  buildAck,
  buildRejectAck,
  formatHl7Timestamp,
} from './ack.js';
export { SUPPORTED_HL7_VERSIONS, type SupportedHl7Version, isSupportedHl7Version } from './versions.js';
