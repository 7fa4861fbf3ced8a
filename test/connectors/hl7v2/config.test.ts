import { describe, expect, it } from '@jest/globals';

import { Hl7v2Config } from '../../../connectors/hl7v2/config.js';
import { negativeAckText, outboundControlId } from '../../../connectors/hl7v2/index.js';
import { parseHl7 } from '../../../src/hl7/index.js';

const issues = (config: unknown) => {
  const r = Hl7v2Config.safeParse(config);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('hl7v2 link configuration', () => {
  it('fills the defaults of a listener', () => {
    const c = Hl7v2Config.parse({ mllp: { listen: { host: '0.0.0.0', port: 2575 } } });
    expect(c.mllp?.listen).toEqual({
      host: '0.0.0.0',
      port: 2575,
      maxMessageBytes: 1048576,
      idleTimeoutMs: 300000,
      maxConnections: 200,
      maxConnectionsPerAddress: 20,
    });
    expect([c.reusedControlId, c.sendingApplication, c.sendingFacility]).toEqual([
      'process',
      'PASSERELLE',
      'PASSERELLE',
    ]);
  });

  it('refuses unknown keys, at every level', () => {
    expect(issues({ mllp: { listen: { host: 'h', port: 1, tsl: {} } } })).toEqual([
      expect.stringMatching(/^mllp\.listen: Unrecognized key/),
    ]);
    expect(issues({ fileDrop: { inbound: '/in' }, mapping: 'x' })).toEqual([
      expect.stringMatching(/^: Unrecognized key/),
    ]);
  });

  it('needs at least one transport, and one outbound transport at most', () => {
    expect(issues({})).toEqual([
      ': configure at least one of mllp.listen, mllp.send, fileDrop.inbound, fileDrop.outbound',
    ]);
    expect(issues({ mllp: { send: { host: 'h', port: 1 } }, fileDrop: { outbound: '/out' } })).toEqual([
      'fileDrop.outbound: one outbound transport per link: mllp.send or fileDrop.outbound, not both',
    ]);
  });

  it('asks for the CA when client certificates are required', () => {
    expect(
      issues({ mllp: { listen: { host: 'h', port: 1, tls: { cert: 'c.pem', requestClientCert: true } } } }),
    ).toEqual(['mllp.listen.tls.ca: requestClientCert needs the CA that signs the client certificates']);
  });

  it('refuses a character set the codec does not read', () => {
    expect(issues({ fileDrop: { inbound: '/in' }, defaultCharset: 'EBCDIC' })).toEqual([
      expect.stringMatching(/^defaultCharset: not a supported character set/),
    ]);
    expect(issues({ fileDrop: { inbound: '/in' }, defaultCharset: '8859/1' })).toEqual([]);
  });
});

describe('outbound control ids and negative ACK texts', () => {
  it('derives a 20-character MSH-10 from the idempotency key, the same on every retry', () => {
    expect(outboundControlId('k1')).toMatch(/^P[0-9A-F]{19}$/);
    expect(outboundControlId('k1')).toBe(outboundControlId('k1'));
    expect(outboundControlId('k1')).not.toBe(outboundControlId('k2'));
  });

  it('reads the peer’s error from ERR (v2.5) or MSA-3 / ERR-1 (v2.3)', () => {
    const v25 = parseHl7(
      'MSH|^~\\&|A|B|C|D|20250101||ACK^S12^ACK|1|P|2.5\rMSA|AE|X\rERR||PID^1^3^1|101^Required field missing^HL70357|E||||Identifiant absent\r',
    );
    expect(negativeAckText(v25)).toBe('101 Required field missing: at PID-3: Identifiant absent');
    const v23 = parseHl7(
      'MSH|^~\\&|A|B|C|D|20250101||ACK^S12|1|P|2.3\rMSA|AE|X|Agenda inconnu\rERR|SCH^1^5^204&Unknown key identifier&HL70357\r',
    );
    expect(negativeAckText(v23)).toBe('204 Unknown key identifier: at SCH-5: Agenda inconnu');
  });
});
