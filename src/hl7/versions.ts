/**
 * The HL7 v2 versions passerelle is built and tested for (MSH-12.1). Parsing does not refuse
 * other versions: the connector decides, and answers an unsupported one with table 0357 code 203.
 */
export const SUPPORTED_HL7_VERSIONS = ['2.3', '2.3.1', '2.4', '2.5', '2.5.1'] as const;
export type SupportedHl7Version = (typeof SUPPORTED_HL7_VERSIONS)[number];

export function isSupportedHl7Version(version: string | undefined): version is SupportedHl7Version {
  return version !== undefined && (SUPPORTED_HL7_VERSIONS as readonly string[]).includes(version);
}
