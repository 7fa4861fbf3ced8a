import { describe, expect, it } from '@jest/globals';

import { isValidNirKey, OID } from '../../src/model/identifiers.js';
import { assertValid, validateAs, validateResource } from '../../src/model/validate.js';
import { fixturePatients } from '../helpers/fixtures.js';

const appointment = (over: Record<string, unknown> = {}) => ({
  resourceType: 'Appointment',
  id: 'apt-1',
  status: 'booked',
  start: '2026-12-01T08:00:00Z',
  end: '2026-12-01T08:20:00Z',
  participant: [{ actor: { reference: 'Practitioner/pr-1' }, status: 'accepted' }],
  ...over,
});

describe('canonical model validation', () => {
  it('names the path and the rule: Appointment.start: not an instant', () => {
    const r = validateAs('Appointment', appointment({ start: '2026-12-01 08:00' }));
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues.map((i) => `${i.path}: ${i.message}`)).toContain('Appointment.start: not an instant');
  });

  it('requires start and end for a booked appointment but not for a cancelled one (FHIR app-3)', () => {
    const { start: _s, end: _e, ...noTimes } = appointment();
    const booked = validateAs('Appointment', noTimes);
    expect(booked.ok ? [] : booked.issues.map((i) => `${i.path}: ${i.message}`)).toContain(
      'Appointment.start: is required when status is booked',
    );
    expect(validateAs('Appointment', { ...noTimes, status: 'cancelled' }).ok).toBe(true);
  });

  it('rejects an end before the start, unknown elements and unknown statuses', () => {
    const r = validateAs(
      'Appointment',
      appointment({ end: '2026-12-01T07:00:00Z', colour: 'red', status: 'confirmed' }),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const lines = r.issues.map((i) => `${i.path}: ${i.message}`);
      expect(lines).toContain('Appointment: unknown element colour');
      expect(lines.some((l) => l.startsWith('Appointment.status: must be one of proposed'))).toBe(true);
    }
    const r2 = validateAs('Appointment', appointment({ end: '2026-12-01T07:00:00Z' }));
    expect(r2.ok ? [] : r2.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'Appointment.end: is before start',
    ]);
  });

  it('accepts the fixture patients with the INS test OID only on a link marked as test', () => {
    const [jeanne] = fixturePatients();
    expect(validateAs('Patient', jeanne, { testLink: true }).ok).toBe(true);
    const prod = validateAs('Patient', jeanne, { testLink: false });
    expect(prod.ok ? [] : prod.issues.map((i) => i.path)).toEqual(['Patient.identifier[0].system']);
  });

  it('refuses an INS on an identity that is not qualified (reliability VALI)', () => {
    const lucie = fixturePatients()[2];
    const withIns = {
      ...lucie,
      identifier: [{ use: 'official', system: OID.insNir, value: '292059720812370' }],
    };
    const r = validateAs('Patient', withIns);
    expect(r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'Patient.identifier[0]: an INS travels only with a qualified identity (reliability VALI, found PROV)',
    ]);
  });

  it('allows only one official identifier and checks the INS key', () => {
    const [jeanne] = fixturePatients();
    const twice = {
      ...jeanne,
      identifier: [...(jeanne?.identifier ?? []), { use: 'official', system: 'urn:oid:1.2.3', value: 'X' }],
    };
    const r = validateAs('Patient', twice, { testLink: true });
    expect(r.ok ? [] : r.issues.map((i) => i.message)).toContain(
      'only one official identifier is allowed (the INS)',
    );
    const badKey = {
      ...jeanne,
      identifier: [{ use: 'official', system: OID.insNirTest, value: '285037511234545' }],
    };
    const r2 = validateAs('Patient', badKey, { testLink: true });
    expect(r2.ok ? [] : r2.issues.map((i) => i.path)).toEqual(['Patient.identifier[0].value']);
  });

  it('computes NIR keys, including Corsican departments', () => {
    expect(isValidNirKey('285037511234544')).toBe(true);
    expect(isValidNirKey('285037511234543')).toBe(false);
    // 2A → 19 for the key computation: 1 80 01 2A 123 456 → key from 1800119123456.
    const key = String(97 - Number(1800119123456n % 97n)).padStart(2, '0');
    expect(isValidNirKey(`180012A123456${key}`)).toBe(true);
  });

  it('checks practitioner national identifiers (8 + RPPS)', () => {
    const ok = {
      resourceType: 'Practitioner',
      id: 'pr-1',
      identifier: [{ system: OID.idnps, value: '810101234567' }],
    };
    expect(validateResource(ok).ok).toBe(true);
    const bad = validateResource({ ...ok, identifier: [{ system: OID.idnps, value: '10101234567' }] });
    expect(bad.ok ? [] : bad.issues.map((i) => i.path)).toEqual(['Practitioner.identifier[0].value']);
  });

  it('takes a practitioner role with its practitioner, dated by day, and refuses one without it', () => {
    const role = {
      resourceType: 'PractitionerRole',
      id: 'r1',
      active: true,
      period: { start: '2012-01-01' },
      practitioner: { reference: 'Practitioner/p1' },
      location: [{ reference: 'Location/1', display: 'Site nord' }],
      availableTime: [{ daysOfWeek: ['mon'], availableStartTime: '09:00', availableEndTime: '12:00' }],
    };
    expect(validateAs('PractitionerRole', role).ok).toBe(true);
    const r = validateAs('PractitionerRole', { ...role, practitioner: { display: 'Dr X' } });
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['PractitionerRole.practitioner.reference']);
  });

  it('refuses a slot that ends before it starts, and unknown resource types', () => {
    const slot = {
      resourceType: 'Slot',
      id: 's1',
      schedule: { reference: 'Schedule/sc1' },
      status: 'busy-unavailable',
      start: '2026-12-01T13:00:00Z',
      end: '2026-12-01T12:00:00Z',
    };
    expect(validateResource(slot).ok).toBe(false);
    expect(validateResource({ resourceType: 'Observation', id: 'o' })).toEqual({
      ok: false,
      issues: [{ path: 'resourceType', message: expect.stringContaining('must be one of') }],
    });
  });

  it('throws a typed error carrying every issue without the values', () => {
    try {
      assertValid('Appointment', appointment({ start: 'Jeanne FICTIVE' }));
      throw new Error('should have thrown');
    } catch (e) {
      expect(e).toMatchObject({ code: 'ERR_MODEL_INVALID' });
      expect((e as Error).message).toBe('Appointment.start: not an instant');
      expect(JSON.stringify((e as { issues: unknown }).issues)).not.toContain('FICTIVE');
    }
  });
});
