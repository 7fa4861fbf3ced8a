/**
 * Round trips for every shipped profile and every sample: protocol → canonical → protocol →
 * canonical gives the same records, and every field a rule mapped the first time is mapped
 * again with the same protocol value.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { type Hl7Message, parseHl7 } from '../../src/hl7/index.js';
import type { CompiledRule } from '../../src/mapping/compile/plan.js';
import {
  type FhirResource,
  fromCanonical,
  type MappingContext,
  type MappingPlan,
  shippedPlan,
  toCanonical,
  type ToCanonicalResult,
} from '../../src/mapping/index.js';
import { readHl7 } from '../../src/mapping/protocols/hl7v2.js';
import { readPath } from '../../src/mapping/run/element-path.js';
import { fixturePath } from '../helpers/fixtures.js';

const ctx: MappingContext = {
  testLink: true,
  timezone: 'Europe/Paris',
  now: () => Date.parse('2025-03-18T10:00:00Z'),
  controlId: 'RT-1',
};
const hl7Files = readdirSync(fixturePath('hl7'))
  .filter((f) => f.endsWith('.hl7'))
  .sort();
const fhirFiles = ['fr-core', 'r4']
  .flatMap((d) =>
    readdirSync(fixturePath('fhir', d))
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(d, f)),
  )
  .sort();

const dataOf = (r: ToCanonicalResult) =>
  r.records.map((x) => ({
    kind: x.kind,
    externalId: x.externalId,
    deleted: x.deleted ?? false,
    data: x.data,
  }));
/**
 * Rules that gave a value. A default written out comes back as a mapped value, so both count;
 * merges (A40/A47 `supersedes`) are not rendered back: passerelle never sends a merge.
 */
const mappedRules = (r: ToCanonicalResult) =>
  r.report
    .filter(
      (x) =>
        (x.status === 'mapped' || x.status === 'defaulted') &&
        x.rule !== '(not in profile)' &&
        !x.rule.endsWith('.supersedes'),
    )
    .map((x) => x.rule)
    .sort();

function ruleOf(plan: MappingPlan, kind: string, label: string): CompiledRule | undefined {
  return plan.kinds[kind as keyof MappingPlan['kinds']]?.inboundRules.find((r) => r.label === label);
}

/** The raw protocol value a rule read, over its alternatives. */
function rawHl7(msg: Hl7Message, rule: CompiledRule): string | undefined {
  for (const a of rule.from) {
    const v = a.protocol === 'hl7v2' ? readHl7(msg, a.hl7) : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}

describe.each(['hl7v2-ihe-pam-fr', 'hl7v2-generic-2.5'])('round trips through %s', (name) => {
  const plan = shippedPlan(name);
  const accepted = hl7Files.filter((f) =>
    plan.hl7?.inbound.has(parseHl7(readFileSync(fixturePath('hl7', f))).header.messageType ?? ''),
  );

  it('accepts the SIU and ADT samples it declares and refuses the others with ERR_MAPPING_UNSUPPORTED_MESSAGE', () => {
    for (const f of hl7Files.filter((x) => !accepted.includes(x))) {
      const r = toCanonical(plan, parseHl7(readFileSync(fixturePath('hl7', f))), ctx);
      expect(r.error?.code).toBe('ERR_MAPPING_UNSUPPORTED_MESSAGE');
    }
    expect(accepted.length).toBeGreaterThanOrEqual(13);
  });

  it.each(accepted)('%s → canonical → HL7 → canonical keeps every mapped field', (file) => {
    const msg = parseHl7(readFileSync(fixturePath('hl7', file)));
    const first = toCanonical(plan, msg, ctx);
    expect(first.issues).toEqual([]);
    expect(first.ok).toBe(true);
    const outboundKinds = new Set(plan.hl7?.outbound.keys());
    const primary = [...first.records].reverse().find((r) => outboundKinds.has(r.kind));
    if (!primary) throw new Error('no record to render');
    const related = first.records
      .filter((r) => r !== primary)
      .map((r) => ({ data: r.data, externalId: r.externalId }));
    const out = fromCanonical(
      plan,
      {
        op: primary.deleted ? 'delete' : 'upsert',
        kind: primary.kind,
        externalId: primary.externalId,
        data: primary.data,
        base: null,
        related,
      },
      ctx,
    );
    expect(out.report.filter((r) => r.status === 'error')).toEqual([]);
    expect(out.ok).toBe(true);
    const again = parseHl7(out.hl7?.bytes ?? Buffer.alloc(0));
    const second = toCanonical(plan, again, ctx);
    expect(second.ok).toBe(true);
    expect(dataOf(second)).toEqual(dataOf(first));
    expect(mappedRules(second)).toEqual(mappedRules(first));
    // Protocol side: a rule without transform or value map carries the very same text.
    for (const row of first.report.filter((r) => r.status === 'mapped' && r.kind)) {
      const rule = ruleOf(plan, row.kind as string, row.rule);
      if (!rule || rule.transforms.length > 0 || rule.map || rule.value !== undefined) continue;
      expect([row.rule, rawHl7(again, rule)]).toEqual([row.rule, rawHl7(msg, rule)]);
    }
  });
});

describe('round trips through fhir-r4-fr-core', () => {
  const plan = shippedPlan('fhir-r4-fr-core');
  const load = (f: string) => JSON.parse(readFileSync(fixturePath('fhir', f), 'utf8')) as FhirResource;

  it.each(fhirFiles)(
    '%s → canonical → FHIR (onto the current resource) → canonical keeps every mapped field',
    (file) => {
      const resource = load(file);
      const first = toCanonical(plan, resource, ctx);
      if (file.endsWith('patient-ins-bad-key.json')) {
        // The NIR key is wrong: the canonical model refuses the record; nothing is applied.
        expect(first.error?.code).toBe('ERR_MAPPING_RECORD_INVALID');
        expect(first.error?.message).toContain('Patient.identifier[1].value');
        return;
      }
      expect(first.issues).toEqual([]);
      const record = first.records[0];
      if (!record) throw new Error('no record');
      const kind = plan.kinds[record.kind];
      if (!kind?.outbound) return;
      const out = fromCanonical(
        plan,
        { op: 'upsert', kind: record.kind, externalId: record.externalId, data: record.data, base: null },
        ctx,
        resource,
      );
      expect(out.ok).toBe(true);
      const fhir = out.fhir as FhirResource;
      const second = toCanonical(plan, fhir, ctx);
      expect(dataOf(second)).toEqual(dataOf(first));
      expect(mappedRules(second)).toEqual(mappedRules(first));
      // Elements no rule reads are the server's, kept as they were.
      const read = new Set(
        kind.rules.flatMap((r) =>
          r.from.map((a) => (a.protocol === 'fhir-r4' ? a.fhir.steps[0]?.name : undefined)),
        ),
      );
      for (const key of Object.keys(resource).filter((k) => !read.has(k)))
        expect([key, fhir[key]]).toEqual([key, resource[key]]);
      // Mapped elements read back as the canonical value; those without one keep the server's.
      for (const r of kind.outboundRules.filter((x) => x.transforms.length === 0 && !x.map && x.to)) {
        const a = r.from[0];
        if (a?.protocol !== 'fhir-r4' || !r.to) continue;
        const canonical = readPath(record.data, r.to.steps);
        expect([r.label, readPath(fhir, a.fhir.steps)]).toEqual([
          r.label,
          canonical ?? readPath(resource, a.fhir.steps),
        ]);
      }
    },
  );
});
