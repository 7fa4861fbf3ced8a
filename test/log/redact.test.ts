import { Writable } from 'node:stream';

import { describe, expect, it } from '@jest/globals';

import { PasserelleError } from '../../src/errors.js';
import { createLogger, withLogContext } from '../../src/log/logger.js';
import { fixturePatients, identifyingValues, readFixture } from '../helpers/fixtures.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('log redaction', () => {
  it('keeps every identifying value of a fixture patient out of an error log line', async () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    const [patient] = fixturePatients();
    if (!patient) throw new Error('fixture missing');
    const hl7 = `MSH|^~\\&|LOGICIEL|CAB|PASSERELLE|GW|20261123||ADT^A31|M1|P|2.5\rPID|||${patient.identifier?.[0]?.value}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||${patient.name?.[0]?.family}^${patient.name?.[0]?.given?.[0]}||19850314|F`;
    const cause = new Error(
      `upstream said: patient ${patient.telecom?.[0]?.value} born ${patient.birthDate} mail ${patient.telecom?.[1]?.value} nir ${patient.identifier?.[0]?.value}`,
    );
    const err = new PasserelleError('ERR_MODEL_INVALID', 'Patient.birthDate: not a date', {
      details: { patient, field: 'birthDate', rawBody: hl7 },
      cause,
    });
    withLogContext({ requestId: 'req-1', practiceId: 'prac-1' }, () => {
      log.error('could not apply change', {
        err,
        patient,
        resource: patient,
        body: hl7,
        telecom: patient.telecom,
        note: 'rappeler Mme FICTIVE au 06 12 34 56 78',
        url: 'http://fhir.local/Patient?family=FICTIVE&birthdate=1985-03-14',
        linkId: 'link-1',
        changeId: 42,
      });
    });
    await flush();
    const text = out.text();
    expect(text.length).toBeGreaterThan(0);
    for (const value of identifyingValues(patient)) expect(text).not.toContain(value);
    expect(text).not.toContain('06 12 34 56 78');
    expect(text).not.toContain('1985');
    // Ids and codes stay, so the line is still useful.
    const line = JSON.parse(text.trim().split('\n')[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'error',
      requestId: 'req-1',
      practiceId: 'prac-1',
      linkId: 'link-1',
      changeId: 42,
    });
    expect(JSON.stringify(line['err'])).toContain('ERR_MODEL_INVALID');
  });

  it('reduces an HL7 message in a string to its size and hash', async () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    const msg =
      readFixture('patients.json').length > 0
        ? 'MSH|^~\\&|A|B|C|D|20261123||SIU^S12|X1|P|2.5\rPID|||123^^^X||ESSAI^Lucie'
        : '';
    log.warn('unparsed message', { detail: msg });
    await flush();
    expect(out.text()).toMatch(/HL7 message redacted: \d+ bytes, sha256:[0-9a-f]{16}/);
    expect(out.text()).not.toContain('ESSAI');
  });

  it('does not change the caller’s objects', () => {
    const log = createLogger({ silent: true });
    const [patient] = fixturePatients();
    const copy = JSON.parse(JSON.stringify(patient)) as unknown;
    log.info('x', { patient });
    expect(patient).toEqual(copy);
  });
});
