/**
 * The shipped profiles (mappings/*.yaml) and the JSON Schema editors validate them with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { canonicalCatalogue } from '../../src/mapping/compile/catalogue.js';
import { checkOwnershipField, ownershipFieldOf } from '../../src/mapping/compile/ownership.js';
import { OWNERS } from '../../src/mapping/compile/schema.js';
import { loadProfile, mappingsDir, profileJsonSchema, shippedProfileNames } from '../../src/mapping/index.js';
import { readPath } from '../../src/mapping/run/element-path.js';
import { flatten } from '../../src/model/fields.js';
import type { ResourceKind } from '../../src/model/resources.js';

const dir = mappingsDir();
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('shipped mapping profiles', () => {
  it('ships the three profiles the issue names', () => {
    expect(shippedProfileNames()).toEqual(['fhir-r4-fr-core', 'hl7v2-generic-2.5', 'hl7v2-ihe-pam-fr']);
  });

  it.each(files)('%s validates with no error and no warning', (file) => {
    const r = loadProfile(join(dir, file), { label: `mappings/${file}` });
    expect(r.ok ? r.warnings : r.issues).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it.each(files)('%s is named after its file and points editors at the schema', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./schema.json');
    const r = loadProfile(join(dir, file));
    if (!r.ok) throw new Error('profile invalid');
    expect(`${r.plan.name}.yaml`).toBe(file);
  });

  it.each(files)("%s states ownership in the sync engine's OwnershipRules shape", (file) => {
    const r = loadProfile(join(dir, file));
    if (!r.ok) throw new Error('profile invalid');
    for (const [kind, rules] of Object.entries(r.plan.ownership)) {
      const elements = new Set(canonicalCatalogue.root(kind)?.children().keys() ?? []);
      for (const role of rules?.create ?? []) expect(['practice', 'secretariat']).toContain(role);
      for (const [field, owner] of Object.entries(rules?.fields ?? {})) {
        expect(checkOwnershipField(kind as ResourceKind, field, elements)).toBeUndefined();
        expect(OWNERS).toContain(owner);
      }
    }
  });

  it('derives ownership field paths the way the sync engine keys merge fields', () => {
    const r = loadProfile(join(dir, 'hl7v2-ihe-pam-fr.yaml'));
    if (!r.ok) throw new Error('profile invalid');
    const patient = r.plan.kinds.Patient;
    const samples = readFileSync(join(dir, '..', 'test', 'fixtures', 'patients.json'), 'utf8');
    const jeanne = (JSON.parse(samples) as { patients: Record<string, unknown>[] }).patients[0] as Record<
      string,
      unknown
    >;
    const engineFields = new Set(flatten(jeanne).keys());
    for (const rule of patient?.rules ?? []) {
      if (!rule.to) continue;
      const field = ownershipFieldOf(rule.to);
      const value = readPath(jeanne, rule.to.steps);
      // Wherever the fixture patient has a value, the engine has a merge field of that name.
      if (value !== undefined) expect([rule.label, engineFields.has(field)]).toEqual([rule.label, true]);
    }
  });

  it('gives the IHE PAM France profile per-field owners from its rules and sections', () => {
    const r = loadProfile(join(dir, 'hl7v2-ihe-pam-fr.yaml'));
    if (!r.ok) throw new Error('profile invalid');
    expect(r.plan.ownership.Patient).toEqual({
      create: ['practice', 'secretariat'],
      fields: {
        '*': 'practice',
        address: 'last-writer',
        'telecom[system=phone]': 'last-writer',
        'telecom[system=email]': 'last-writer',
      },
    });
    expect(r.plan.ownership.Appointment).toEqual({
      create: ['practice', 'secretariat'],
      fields: { '*': 'review' },
    });
  });

  it("passes the appointment types with their consignes for the secretariat's catalogue", () => {
    const r = loadProfile(join(dir, 'hl7v2-ihe-pam-fr.yaml'));
    if (!r.ok) throw new Error('profile invalid');
    expect(r.plan.appointmentTypes.map((t) => t.code)).toEqual(['CONS-SUIVI', 'CONS-LONG', 'CONS', 'ECHO']);
    expect(r.plan.appointmentTypes[0]).toMatchObject({
      display: 'Consultation de suivi',
      minutes: 20,
      instructions: expect.stringContaining('carte Vitale'),
    });
  });
});

describe('mappings/schema.json', () => {
  it('is exactly the JSON Schema generated from the zod profile schema', () => {
    const committed = JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(profileJsonSchema());
  });

  it('forbids unknown keys at every level, as the loader does', () => {
    const schema = profileJsonSchema() as {
      additionalProperties?: unknown;
      properties: Record<string, { additionalProperties?: unknown }>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(JSON.stringify(schema)).not.toContain('"additionalProperties":true');
  });
});
