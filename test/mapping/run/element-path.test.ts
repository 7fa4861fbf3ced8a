/**
 * Element paths (profile `to` and FHIR `from`): parsing, checking against the catalogues, and
 * the accessors the engine writes and reads through.
 */
import { describe, expect, it } from '@jest/globals';

import { canonicalCatalogue, fhirCatalogue, resolvePath } from '../../../src/mapping/compile/catalogue.js';
import {
  type CompiledPath,
  ensureContainer,
  parseElementPath,
  PathSyntaxError,
  prune,
  readPath,
  removePath,
  writePath,
} from '../../../src/mapping/run/element-path.js';

function compiled(kind: string, text: string, catalogue = canonicalCatalogue): CompiledPath {
  const r = resolvePath(catalogue, kind, parseElementPath(text));
  if (!r.ok) throw new Error(r.message);
  return r.path;
}

describe('element path syntax', () => {
  it('parses elements, list positions and selectors whose values hold dots and colons', () => {
    expect(parseElementPath('identifier[system=urn:oid:1.2.250.1.213.1.4.8].value').steps).toEqual([
      { name: 'identifier', conds: [{ key: ['system'], value: 'urn:oid:1.2.250.1.213.1.4.8' }] },
      { name: 'value' },
    ]);
    expect(parseElementPath('telecom[system=phone,use=mobile].value').steps[0]).toEqual({
      name: 'telecom',
      conds: [
        { key: ['system'], value: 'phone' },
        { key: ['use'], value: 'mobile' },
      ],
    });
    expect(parseElementPath('serviceType[0].coding[0].code').steps.map((s) => s.index)).toEqual([
      0,
      0,
      undefined,
    ]);
  });

  it.each([
    ['', 'empty path'],
    ['name..family', 'expected an element name at position 6'],
    ['name[use=official', "unclosed '[' at position 5"],
    ['name[official].family', 'selector [official] of name: expected key=value or a list position'],
    ['name[use=].family', 'selector [use=] of name: empty value'],
    ['name.', 'path ends with a dot'],
    ['name[0]x', "unexpected 'x' at position 8"],
  ])('refuses %p: %s', (text, message) => {
    expect(() => parseElementPath(text)).toThrow(PathSyntaxError);
    expect(() => parseElementPath(text)).toThrow(message);
  });
});

describe('catalogues', () => {
  it('derives canonical paths from the model and suggests the closest element', () => {
    expect(resolvePath(canonicalCatalogue, 'Appointment', parseElementPath('strat'))).toEqual({
      ok: false,
      message: 'unknown canonical path Appointment.strat (did you mean start?)',
    });
    expect(
      resolvePath(canonicalCatalogue, 'Patient', parseElementPath('name[usee=official].family')),
    ).toEqual({
      ok: false,
      message:
        'canonical path Patient.name[usee=official].family: unknown selector key usee in name[…] (did you mean use?)',
    });
    expect(resolvePath(canonicalCatalogue, 'Appointment', parseElementPath('status[0]'))).toEqual({
      ok: false,
      message: 'canonical path Appointment.status[0]: status is not a list, it takes no [0]',
    });
    expect(resolvePath(canonicalCatalogue, 'Appointment', parseElementPath('start.value'))).toEqual({
      ok: false,
      message: 'unknown canonical path Appointment.start.value: start has no elements',
    });
  });

  it('knows which canonical leaves are instants, dates and codes', () => {
    const leaf = (kind: string, text: string) => {
      const r = resolvePath(canonicalCatalogue, kind, parseElementPath(text));
      if (!r.ok) throw new Error(r.message);
      return r.leaf;
    };
    expect(leaf('Appointment', 'start').format).toBe('instant');
    expect(leaf('Patient', 'birthDate').format).toBe('date');
    expect(leaf('Appointment', 'created').format).toBe('dateTime');
    expect(leaf('Appointment', 'status').enum).toContain('noshow');
    expect(leaf('Appointment', 'minutesDuration')).toMatchObject({ type: 'number', integer: true });
    expect(leaf('Appointment', 'participant[actor=Patient].actor')).toMatchObject({
      type: 'object',
      reference: true,
    });
  });

  it('checks FHIR element paths against the R4 schema', () => {
    expect(
      resolvePath(
        fhirCatalogue,
        'Appointment',
        parseElementPath('participant[actor=Patient].actor.reference'),
      ).ok,
    ).toBe(true);
    expect(
      resolvePath(fhirCatalogue, 'Appointment', parseElementPath('serviceCategory[0].coding[0].code')).ok,
    ).toBe(true);
    expect(resolvePath(fhirCatalogue, 'Appointment', parseElementPath('priorty'))).toEqual({
      ok: false,
      message: 'unknown FHIR R4 element Appointment.priorty (did you mean priority?)',
    });
  });
});

describe('accessors', () => {
  it('writes into the list item a selector picks, creating it with the selector keys', () => {
    const data: Record<string, unknown> = {};
    writePath(data, compiled('Patient', 'telecom[system=phone,use=mobile].value').steps, '+33612345678');
    writePath(data, compiled('Patient', 'telecom[system=email].value').steps, 'jeanne.fictive@example.org');
    writePath(data, compiled('Patient', 'telecom[system=phone,use=mobile].rank').steps, 1);
    expect(data).toEqual({
      telecom: [
        { system: 'phone', use: 'mobile', value: '+33612345678', rank: 1 },
        { system: 'email', value: 'jeanne.fictive@example.org' },
      ],
    });
    expect(readPath(data, compiled('Patient', 'telecom[system=email].value').steps)).toBe(
      'jeanne.fictive@example.org',
    );
    expect(readPath(data, compiled('Patient', 'telecom[system=phone,use=home].value').steps)).toBeUndefined();
  });

  it("matches a Reference key on the referenced type, as the sync engine's field paths do", () => {
    const appt = {
      participant: [
        { actor: { reference: 'Practitioner/819999900012' }, status: 'accepted' },
        { actor: { reference: 'Patient/IPP000101' }, status: 'tentative' },
      ],
    };
    expect(readPath(appt, compiled('Appointment', 'participant[actor=Patient].status').steps)).toBe(
      'tentative',
    );
    expect(readPath(appt, compiled('Appointment', 'participant[actor=Pat].status').steps)).toBeUndefined();
    const created: Record<string, unknown> = {};
    const item = ensureContainer(
      created,
      compiled('Appointment', 'participant[actor=Patient].status').steps.slice(0, 1),
    );
    item['status'] = 'accepted';
    expect(created).toEqual({ participant: [{ status: 'accepted' }] });
  });

  it('removes a selected item and drops a list left empty (FHIR forbids empty arrays)', () => {
    const p = { telecom: [{ system: 'phone', value: '+33612345678' }] };
    expect(removePath(p, compiled('Patient', 'telecom[system=phone]').steps)).toBe(true);
    expect(p).toEqual({});
    expect(removePath(p, compiled('Patient', 'telecom[system=phone]').steps)).toBe(false);
  });

  it('prunes what writing leaves empty', () => {
    expect(prune({ a: '', b: [undefined, {}, 'x'], c: { d: {} }, e: 0, f: false })).toEqual({
      b: ['x'],
      e: 0,
      f: false,
    });
  });
});
