/**
 * TLS material for MLLP (HL7 v2 over TLS, as the MLLP transport specification allows and the
 * design's security section asks: "MLLP over TLS with optional client certificates"). Config
 * values are PEM text or paths to PEM files; they are read once, when the link starts, and a
 * problem names the config key, never the content.
 */
import { readFileSync } from 'node:fs';

import { PasserelleError } from '../../../src/errors.js';

/** PEM text as is, or the content of the PEM file at that path. */
export function loadPem(value: string, configPath: string, linkId: string): string {
  if (value.trimStart().startsWith('-----BEGIN')) return value;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (e) {
    throw new PasserelleError(
      'ERR_CONNECTOR_CONFIG_INVALID',
      `link ${linkId}: ${configPath}: cannot read the PEM file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        cause: e,
        details: { linkId },
        issues: [{ path: configPath, message: 'cannot read the PEM file' }],
      },
    );
  }
  if (!text.includes('-----BEGIN')) {
    throw new PasserelleError(
      'ERR_CONNECTOR_CONFIG_INVALID',
      `link ${linkId}: ${configPath}: the file holds no PEM block`,
      {
        details: { linkId },
        issues: [{ path: configPath, message: 'the file holds no PEM block' }],
      },
    );
  }
  return text;
}
