import { describe, expect, it } from '@jest/globals';

import { changedPaths, fieldsHash, flatten, TIME_FIELD, unflatten } from '../../src/model/fields.js';
import { defaultOwnership, ownerOf, withOverrides } from '../../src/model/ownership.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import { type MergeInput, threeWayMerge } from '../../src/sync/merge.js';
import { fixturePatients } from '../helpers/fixtures.js';

const jeanne = fixturePatients()[0] as Patient;

function patient(edit: (p: Patient) => Patient = (p) => p): Patient {
  return edit(structuredClone(jeanne));
}
const withPhone =
  (value: string) =>
  (p: Patient): Patient => ({
    ...p,
    telecom: (p.telecom ?? []).map((t) => (t.system === 'phone' ? { ...t, value } : t)),
  });
const withCity =
  (city: string) =>
  (p: Patient): Patient => ({ ...p, address: (p.address ?? []).map((a) => ({ ...a, city })) });
const withFamily =
  (family: string) =>
  (p: Patient): Patient => ({
    ...p,
    name: (p.name ?? []).map((n) => (n.use === 'official' ? { ...n, family } : n)),
  });

function appointment(start: string, end: string, status: Appointment['status'] = 'booked'): Appointment {
  return {
    resourceType: 'Appointment',
    id: 'apt-1',
    status,
    start,
    end,
    participant: [
      { actor: { reference: 'Practitioner/pr-1' }, status: 'accepted' },
      { actor: { reference: 'Patient/pat-1' }, status: 'accepted' },
    ],
  };
}

function merge(
  input: Omit<MergeInput, 'rules' | 'base' | 'theirs' | 'ours'> & {
    base: object | null;
    theirs: object;
    ours: object | null;
    rules?: MergeInput['rules'];
  },
) {
  return threeWayMerge({
    ...input,
    base: input.base && flatten(input.base as Patient),
    theirs: flatten(input.theirs as Patient),
    ours: input.ours && flatten(input.ours as Patient),
    rules: input.rules ?? defaultOwnership,
  });
}

describe('field decomposition', () => {
  it('splits keyed arrays into one field per item, named by keys that carry no patient data', () => {
    const paths = [...flatten(jeanne).keys()];
    expect(paths).toEqual(
      expect.arrayContaining([
        'telecom[system=phone]',
        'telecom[system=email]',
        'name[use=official]',
        'name[use=usual]',
        'identifier[system=urn:oid:1.2.250.1.213.1.4.10]',
        'birthDate',
        'gender',
      ]),
    );
    for (const p of paths)
      for (const v of ['FICTIVE', 'Jeanne', '+33612345678', '285037511234544']) expect(p).not.toContain(v);
  });

  it('keeps repeated keys apart and rebuilds the same resource', () => {
    const twoPhones = patient((p) => ({
      ...p,
      telecom: [
        { system: 'phone', value: '+33100000001' },
        { system: 'phone', value: '+33100000002' },
      ],
    }));
    const fields = flatten(twoPhones);
    expect([...fields.keys()].filter((k) => k.startsWith('telecom'))).toEqual([
      'telecom[system=phone]',
      'telecom[system=phone#2]',
    ]);
    expect(unflatten('Patient', twoPhones.id, fields)).toEqual(twoPhones);
  });

  it('treats an appointment’s start and end as one field, and participants by actor type', () => {
    const paths = [...flatten(appointment('2026-12-01T08:00:00.000Z', '2026-12-01T08:20:00.000Z')).keys()];
    expect(paths).toEqual([
      TIME_FIELD,
      'status',
      'participant[actor=Practitioner]',
      'participant[actor=Patient]',
    ]);
  });

  it('hashes content independently of keyed-array order and of id and meta', () => {
    const reordered = patient((p) => ({
      ...p,
      id: 'other',
      meta: { versionId: '9' },
      telecom: [...(p.telecom ?? [])].reverse(),
    }));
    expect(fieldsHash(reordered)).toBe(fieldsHash(jeanne));
    expect(fieldsHash(patient(withPhone('+33699999999')))).not.toBe(fieldsHash(jeanne));
  });
});

describe('three-way merge', () => {
  it('converges a phone changed by the secretariat and an address changed by the practice, without conflict', () => {
    const base = patient();
    const ours = patient(withCity('Autreville')); // the practice's change, already canonical
    const theirs = patient(withPhone('+33699999999')); // from the secretariat
    const m = merge({ kind: 'Patient', source: 'secretariat', base, theirs, ours });
    expect(m.collisions).toEqual([]);
    const result = unflatten<Patient>('Patient', jeanne.id, m.merged);
    expect(result.telecom?.find((t) => t.system === 'phone')?.value).toBe('+33699999999');
    expect(result.address?.[0]?.city).toBe('Autreville');
    expect(m.changed).toBe(true);
    // The secretariat lacks the new address: it gets the merged record back.
    expect(m.pushBack).toBe(true);
  });

  it('applies a change made on one side only and sends nothing back when that side holds the result', () => {
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs: patient(withPhone('+33699999999')),
      ours: patient(),
    });
    expect(m.decisions).toEqual([{ path: 'telecom[system=phone]', outcome: 'applied' }]);
    expect(m.pushBack).toBe(false);
  });

  it('refuses a change to a field the other side owns, and sends the owner’s value back', () => {
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs: patient(withFamily('AUTRE')),
      ours: patient(),
    });
    expect(m.decisions).toEqual([{ path: 'name[use=official]', outcome: 'refused', owner: 'practice' }]);
    expect(m.changed).toBe(false);
    expect(m.pushBack).toBe(true);
  });

  it('lets the last writer win a contact field changed differently on both sides, and records the collision', () => {
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs: patient(withPhone('+33611111111')),
      ours: patient(withPhone('+33622222222')),
    });
    expect(m.decisions).toEqual([
      { path: 'telecom[system=phone]', outcome: 'collision', owner: 'last-writer', winner: 'theirs' },
    ]);
    expect(m.collisions).toEqual([
      {
        path: 'telecom[system=phone]',
        base: expect.objectContaining({ value: '+33612345678' }),
        practice: expect.objectContaining({ value: '+33622222222' }),
        secretariat: expect.objectContaining({ value: '+33611111111' }),
      },
    ]);
    expect(m.needsReview).toBe(false);
  });

  it('keeps the owner’s value of an identity field changed on both sides', () => {
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs: patient(withFamily('UN')),
      ours: patient(withFamily('DEUX')),
    });
    expect(m.decisions).toEqual([
      { path: 'name[use=official]', outcome: 'collision', owner: 'practice', winner: 'ours' },
    ]);
    expect(unflatten<Patient>('Patient', 'x', m.merged).name?.[0]?.family).toBe('DEUX');
  });

  it('opens a review when both sides move the same appointment differently, holding the canonical time', () => {
    const base = appointment('2026-12-01T08:00:00.000Z', '2026-12-01T08:20:00.000Z');
    const ours = appointment('2026-12-01T09:00:00.000Z', '2026-12-01T09:20:00.000Z');
    const theirs = appointment('2026-12-01T10:00:00.000Z', '2026-12-01T10:20:00.000Z');
    const m = merge({ kind: 'Appointment', source: 'secretariat', base, theirs, ours });
    expect(m.needsReview).toBe(true);
    expect([...m.held]).toEqual([TIME_FIELD]);
    expect(m.merged.get(TIME_FIELD)).toEqual({ start: ours.start, end: ours.end });
    expect(m.collisions[0]).toMatchObject({
      path: TIME_FIELD,
      practice: { start: ours.start },
      secretariat: { start: theirs.start },
    });
    expect(m.pushBack).toBe(false);
  });

  it('never pairs one side’s start with the other side’s end', () => {
    const base = appointment('2026-12-01T08:00:00.000Z', '2026-12-01T08:20:00.000Z');
    const ours = { ...base, end: '2026-12-01T08:40:00.000Z' };
    const theirs = { ...base, start: '2026-12-01T07:40:00.000Z' };
    const m = merge({
      kind: 'Appointment',
      source: 'secretariat',
      base,
      theirs,
      ours,
      rules: withOverrides({ Appointment: { fields: { start: 'secretariat' } } }),
    });
    expect(m.merged.get(TIME_FIELD)).toEqual({ start: theirs.start, end: theirs.end });
  });

  it('adds a new change to a field already in review to that review instead of applying it', () => {
    const base = appointment('2026-12-01T08:00:00.000Z', '2026-12-01T08:20:00.000Z');
    const held = new Map([
      [
        TIME_FIELD,
        { path: TIME_FIELD, base: { start: 'b' }, practice: { start: 'p' }, secretariat: { start: 's' } },
      ],
    ]);
    const moved = appointment('2026-12-01T11:00:00.000Z', '2026-12-01T11:20:00.000Z');
    const m = merge({ kind: 'Appointment', source: 'practice', base, theirs: moved, ours: base, held });
    expect(m.changed).toBe(false);
    expect(m.collisions).toEqual([
      {
        path: TIME_FIELD,
        base: { start: 'b' },
        practice: { start: moved.start, end: moved.end },
        secretariat: { start: 's' },
      },
    ]);
  });

  it('takes a whole new record and lets a first-time side’s differing fields collide under ownership', () => {
    const created = merge({ kind: 'Patient', source: 'practice', base: null, theirs: patient(), ours: null });
    expect(created.changed).toBe(true);
    expect(created.decisions.every((d) => d.outcome === 'applied')).toBe(true);
    const firstSight = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: null,
      theirs: patient(withPhone('+33611111111')),
      ours: patient(),
    });
    expect(firstSight.decisions).toEqual([
      { path: 'telecom[system=phone]', outcome: 'collision', owner: 'last-writer', winner: 'theirs' },
    ]);
  });

  it('applies a field removed by one side', () => {
    const theirs = patient((p) => ({ ...p, telecom: (p.telecom ?? []).filter((t) => t.system !== 'email') }));
    const m = merge({ kind: 'Patient', source: 'secretariat', base: patient(), theirs, ours: patient() });
    expect(m.merged.has('telecom[system=email]')).toBe(false);
    expect(changedPaths(flatten(jeanne), m.merged)).toEqual(['telecom[system=email]']);
  });

  it('takes no field the source side cannot hold as removed there, and sends nothing back for it', () => {
    // The secretariat platform has no place for the practice's IPP (issue 9, e2e scenario 4).
    const ipp = 'identifier[system=urn:oid:1.2.250.1.999.1.1]';
    const withoutIpp = (p: Patient): Patient => ({
      ...p,
      identifier: (p.identifier ?? []).filter((i) => i.system !== 'urn:oid:1.2.250.1.999.1.1'),
    });
    const theirs = patient((p) => withPhone('+33699999999')(withoutIpp(p)));
    const sourceHolds = (path: string) => path !== ipp;
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs,
      ours: patient(),
      sourceHolds,
    });
    expect(m.decisions).toEqual([{ path: 'telecom[system=phone]', outcome: 'applied' }]);
    expect(m.refusals).toEqual([]);
    expect(m.merged.get(ipp)).toEqual(flatten(jeanne).get(ipp));
    expect(m.pushBack).toBe(false);
    // Without the knowledge, the same record reads as the IPP removed: refused and sent back.
    const blind = merge({ kind: 'Patient', source: 'secretariat', base: patient(), theirs, ours: patient() });
    expect(blind.refusals.map((r) => r.path)).toEqual([ipp]);
    expect(blind.pushBack).toBe(true);
  });

  it('does not write back a field the source side keeps only in part, and keeps the part it cannot hold', () => {
    // The platform keeps a name without its title (issue 18): what it sends lacks the title.
    const withoutPrefix = (v: unknown): unknown => {
      const { prefix: _prefix, ...rest } = v as { prefix?: string[] };
      return rest;
    };
    const noTitle = (fields: Map<string, unknown>) =>
      new Map(
        [...fields].map(([path, v]) => [path, path === 'name[use=official]' ? withoutPrefix(v) : v] as const),
      );
    const titled = (p: Patient): Patient => ({
      ...p,
      name: (p.name ?? []).map((n) => (n.use === 'official' ? { ...n, prefix: ['MME'] } : n)),
    });
    const ours = patient(titled);
    const theirs = patient(withPhone('+33699999999'));
    const m = merge({
      kind: 'Patient',
      source: 'secretariat',
      base: patient(),
      theirs,
      ours,
      sourceView: noTitle,
    });
    expect(m.decisions).toEqual([{ path: 'telecom[system=phone]', outcome: 'applied' }]);
    expect(m.merged.get('name[use=official]')).toEqual(flatten(ours).get('name[use=official]'));
    expect(m.pushBack).toBe(false);
    // Without the view, the same record reads as a name the platform does not hold: sent back.
    expect(merge({ kind: 'Patient', source: 'secretariat', base: patient(), theirs, ours }).pushBack).toBe(
      true,
    );
  });
});

describe('ownership', () => {
  it('follows the design table by default', () => {
    expect(ownerOf(defaultOwnership, 'Slot', 'status')).toBe('practice');
    expect(ownerOf(defaultOwnership, 'Practitioner', 'name[use=official]')).toBe('practice');
    expect(ownerOf(defaultOwnership, 'Patient', 'birthDate')).toBe('practice');
    expect(ownerOf(defaultOwnership, 'Patient', 'telecom[system=phone]')).toBe('last-writer');
    expect(ownerOf(defaultOwnership, 'Patient', 'address[use=home]')).toBe('last-writer');
    expect(ownerOf(defaultOwnership, 'Appointment', TIME_FIELD)).toBe('review');
    expect(ownerOf(defaultOwnership, 'Communication', 'payload')).toBe('secretariat');
    expect(ownerOf(defaultOwnership, 'Communication', 'received')).toBe('practice');
  });

  it('lets a profile override a kind or a single field, keeping the other defaults', () => {
    const rules = withOverrides({
      Patient: { fields: { 'telecom[system=email]': 'practice' } },
      Appointment: { fields: { status: 'practice' } },
    });
    expect(ownerOf(rules, 'Patient', 'telecom[system=email]')).toBe('practice');
    expect(ownerOf(rules, 'Patient', 'telecom[system=phone]')).toBe('last-writer');
    expect(ownerOf(rules, 'Appointment', 'status')).toBe('practice');
    expect(ownerOf(rules, 'Appointment', TIME_FIELD)).toBe('review');
    expect(rules.Practitioner?.create).toEqual(['practice']);
  });
});
