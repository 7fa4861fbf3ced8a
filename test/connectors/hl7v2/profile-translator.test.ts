/**
 * The product translator (connectors/hl7v2/profile-translator.ts) over the shipped profiles:
 *
 * - round trips through the translator as the connector uses it: every fixture of
 *   test/fixtures/hl7 that a profile accepts goes HL7 → `toRecords` → an outbound change built
 *   as the dispatcher builds one (canonical id, the peer's id, the related patient and
 *   practitioner) → `fromChange` → HL7 → `toRecords`, and every field a rule mapped reads the
 *   same through the rule: the same text, or — where a transform normalizes it (a time given
 *   with its offset) or a value map sends several codes to one value (Deleted → cancelled →
 *   Cancelled) — the same canonical value. Every fixture is accepted by at least one profile;
 * - how mapping failures become ACK errors (AR for a message type or event the profile does not
 *   take, AE with ERR-2 naming the field otherwise), without any value in the text;
 * - loading: a profile that cannot be loaded keeps the link from starting, a reload that fails
 *   keeps the running plan.
 */
import { describe, expect, it } from '@jest/globals';

import { errorLocation, ProfileTranslator } from '../../../connectors/hl7v2/profile-translator.js';
import type { Hl7OutboundContext, Hl7TranslatorContext } from '../../../connectors/hl7v2/translator.js';
import type { ExternalRecord, LinkMapping, OutboundChange } from '../../../src/connector/contract.js';
import { PasserelleError } from '../../../src/errors.js';
import { type Hl7Message, parseHl7 } from '../../../src/hl7/index.js';
import { createLogger } from '../../../src/log/logger.js';
import type { CompiledRule } from '../../../src/mapping/compile/plan.js';
import { type MappingPlan, shippedPlan, shippedProfileText } from '../../../src/mapping/index.js';
import { readHl7 } from '../../../src/mapping/protocols/hl7v2.js';
import { planFromText } from '../../../src/mapping/runtime.js';
import type { Appointment, CanonicalResource } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';
import { fixturePatients, identifyingValues } from '../../helpers/fixtures.js';
import { hl7Fixture, hl7FixtureNames } from '../../helpers/hl7.js';

const PROFILES = ['hl7v2-ihe-pam-fr', 'hl7v2-generic-2.5'] as const;
const log = createLogger({ silent: true });
const link: Link = {
  id: 'link-hl7',
  practiceId: 'p1',
  role: 'practice',
  connector: 'hl7v2',
  name: 'Logiciel',
  profile: null,
  config: {},
  secrets: null,
  schedule: null,
  isTest: true,
  enabled: true,
  version: 1,
  createdAt: '2025-03-01T00:00:00.000Z',
  updatedAt: '2025-03-01T00:00:00.000Z',
};
const ctx: Hl7TranslatorContext = {
  linkId: link.id,
  practiceId: 'p1',
  profile: null,
  timezone: 'Europe/Paris',
  testLink: true,
  now: () => Date.parse('2025-03-18T10:00:00Z'),
};
const out = (controlId: string): Hl7OutboundContext => ({
  ...ctx,
  controlId,
  timestamp: new Date('2025-03-18T10:00:00Z'),
  sendingApplication: 'PASSERELLE',
  sendingFacility: 'SECRETARIAT',
  charset: 'UNICODE UTF-8',
});

async function translatorFor(
  plan: MappingPlan | (() => MappingPlan),
  testLink = true,
): Promise<ProfileTranslator> {
  const t = new ProfileTranslator({
    link: { ...link, isTest: testLink },
    timezone: 'Europe/Paris',
    log,
    mapping: async (): Promise<LinkMapping> => ({
      plan: typeof plan === 'function' ? plan() : plan,
      context: { timezone: 'Europe/Paris', testLink },
    }),
  });
  await t.start();
  return t;
}

/** Canonical ids as the engine gives them (never the peer's id). */
const canonicalId = (r: ExternalRecord) => `c-${r.kind.toLowerCase()}-${r.externalId}`.slice(0, 64);

/** The outbound change the dispatcher would build for the message's main record. */
function changeOf(plan: MappingPlan, records: readonly ExternalRecord[]): OutboundChange {
  const outbound = new Set(plan.hl7?.outbound.keys());
  const primary = [...records].reverse().find((r) => outbound.has(r.kind)) as ExternalRecord;
  return {
    seq: 1,
    op: primary.deleted ? 'delete' : 'upsert',
    kind: primary.kind,
    canonicalId: canonicalId(primary),
    externalId: primary.externalId,
    expectedVersion: null,
    data: primary.data,
    base: null,
    idempotencyKey: 'k-1',
    priority: 5,
    related: records
      .filter((r) => r !== primary)
      .map((r) => ({ kind: r.kind, canonicalId: canonicalId(r), externalId: r.externalId, data: r.data })),
  };
}

/** What a rule's protocol value becomes on the canonical side (its transforms, then its value map). */
function canonicalValue(rule: CompiledRule, raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  let v: string | number | boolean = raw;
  for (const t of rule.transforms) v = t.in(v, { timezone: 'Europe/Paris' });
  return rule.map ? (rule.map.codes.get(String(v)) ?? v) : v;
}

function rawOf(msg: Hl7Message, rule: CompiledRule): string | undefined {
  for (const a of rule.from) {
    const v = a.protocol === 'hl7v2' ? readHl7(msg, a.hl7) : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}

const accepted = (plan: MappingPlan) =>
  hl7FixtureNames().filter((f) => plan.hl7?.inbound.has(parseHl7(hl7Fixture(f)).header.messageType ?? ''));

describe('round trips through the product translator', () => {
  it('covers every fixture with at least one shipped profile', () => {
    const covered = new Set(PROFILES.flatMap((p) => accepted(shippedPlan(p))));
    expect(hl7FixtureNames().filter((f) => !covered.has(f))).toEqual([]);
    expect(covered.size).toBe(14);
  });

  describe.each(PROFILES)('%s', (name) => {
    const plan = shippedPlan(name);

    it.each(accepted(plan))('%s → canonical → HL7 → canonical keeps every mapped field', async (file) => {
      const t = await translatorFor(plan);
      const msg = parseHl7(hl7Fixture(file));
      const first = t.toRecords(msg, ctx);
      const rendered = t.fromChange(changeOf(plan, first.records), out(`RT-${file.slice(0, 10)}`));
      if ('skipped' in rendered) throw new Error(`skipped: ${rendered.skipped}`);
      const again = parseHl7(rendered.message);
      const second = t.toRecords(again, ctx);
      // Same records: kinds, ids, tombstones, every canonical field.
      const view = (rs: readonly ExternalRecord[]) =>
        rs.map((r) => ({
          kind: r.kind,
          externalId: r.externalId,
          deleted: r.deleted ?? false,
          data: r.data,
        }));
      expect(view(second.records)).toEqual(view(first.records));
      // Field by field through the profile's mapped paths.
      let compared = 0;
      for (const record of first.records) {
        for (const rule of plan.kinds[record.kind]?.inboundRules ?? []) {
          const before = rawOf(msg, rule);
          if (before === undefined || rule.when || rule.value !== undefined) continue;
          const after = rawOf(again, rule);
          compared++;
          if (rule.transforms.length === 0 && !rule.map)
            expect([rule.label, after]).toEqual([rule.label, before]);
          else
            expect([rule.label, canonicalValue(rule, after)]).toEqual([
              rule.label,
              canonicalValue(rule, before),
            ]);
        }
      }
      expect(compared).toBeGreaterThanOrEqual(3);
      expect(rendered.externalId).toBe(first.records.at(-1)?.externalId);
      await t.stop();
    });
  });

  it('writes an appointment from the secretariat with passerelle’s id as placer id, its duration from start and end, the patient and practitioner from the related records', async () => {
    const plan = shippedPlan('hl7v2-ihe-pam-fr');
    const t = await translatorFor(plan);
    const s12 = t.toRecords(parseHl7(hl7Fixture('siu-s12-new-appointment')), ctx).records;
    const base = changeOf(plan, s12);
    const { minutesDuration: _d, ...data } = base.data as Appointment;
    const rendered = t.fromChange(
      {
        ...base,
        canonicalId: 'c-booking-1',
        externalId: null,
        data: { ...data, id: 'c-booking-1' } as CanonicalResource,
      },
      out('P-1'),
    );
    if ('skipped' in rendered) throw new Error('skipped');
    const m = parseHl7(rendered.message);
    expect([
      m.header.messageType,
      m.get('SCH-1'),
      m.get('SCH-2'),
      m.get('SCH-9'),
      m.get('MSH-10'),
      m.get('MSH-7'),
    ]).toEqual(['SIU^S12', 'c-booking-1', undefined, '20', 'P-1', '20250318110000+0100']);
    expect([m.get('PID-3[1].1'), m.get('AIP-3.1'), m.get('AIP-3.2')]).toEqual([
      'IPP000101',
      '819999900012',
      'DOCTEUR-FICTIF',
    ]);
    expect(rendered.externalId).toBe('c-booking-1');
    // Known by passerelle's id on the peer: the move keeps it as the placer id.
    const moved = t.fromChange(
      {
        ...base,
        canonicalId: 'c-booking-1',
        externalId: 'c-booking-1',
        base: data as CanonicalResource,
        data: {
          ...data,
          id: 'c-booking-1',
          start: '2025-03-17T09:00:00.000Z',
          end: '2025-03-17T09:20:00.000Z',
        } as CanonicalResource,
      },
      out('P-2'),
    );
    if ('skipped' in moved) throw new Error('skipped');
    const mm = parseHl7(moved.message);
    expect([mm.header.messageType, mm.get('SCH-1'), mm.get('SCH-2')]).toEqual([
      'SIU^S13',
      'c-booking-1',
      undefined,
    ]);
  });

  it('writes the INS only beside a qualified identity, whatever the canonical patient holds', async () => {
    const plan = shippedPlan('hl7v2-ihe-pam-fr');
    const t = await translatorFor(plan);
    const s12 = t.toRecords(parseHl7(hl7Fixture('siu-s12-new-appointment')), ctx).records;
    const change = changeOf(plan, s12);
    const provisional = change.related?.map((r) =>
      r.kind !== 'Patient'
        ? r
        : {
            ...r,
            data: JSON.parse(
              JSON.stringify(r.data).replace('"code":"VALI"', '"code":"PROV"'),
            ) as CanonicalResource,
          },
    );
    const rendered = t.fromChange({ ...change, ...(provisional && { related: provisional }) }, out('P-3'));
    if ('skipped' in rendered) throw new Error('skipped');
    const m = parseHl7(rendered.message);
    expect([m.getAll('PID-3[*].1'), m.get('PID-32')]).toEqual([['IPP000101'], 'PROV']);
  });
});

describe('mapping failures as ACK errors', () => {
  const ihe = shippedPlan('hl7v2-ihe-pam-fr');
  const fail = (t: ProfileTranslator, text: string): PasserelleError => {
    try {
      t.toRecords(parseHl7(text), ctx);
    } catch (e) {
      if (e instanceof PasserelleError) return e;
      throw e;
    }
    throw new Error('expected a mapping error');
  };
  const a28 = hl7Fixture('adt-a28-create').toString('utf8');

  it('refuses an event the profile does not take (AR, 0357 code 201) and an unknown message type (200)', async () => {
    const t = await translatorFor(ihe);
    const event = fail(t, a28.replace('ADT^A28^ADT_A05', 'ADT^A02^ADT_A02'));
    expect([event.code, event.details['hl7Path'], event.details['hl7ErrorCode']]).toEqual([
      'ERR_HL7_UNSUPPORTED_MESSAGE',
      'MSH-9.2',
      '201',
    ]);
    expect(event.message).toMatch(/^profile hl7v2-ihe-pam-fr accepts no ADT\^A02 message/);
    const type = fail(t, a28.replace('ADT^A28^ADT_A05', 'ORM^O01^ORM_O01'));
    expect([type.code, type.details['hl7Path'], type.details['hl7ErrorCode']]).toEqual([
      'ERR_HL7_UNSUPPORTED_MESSAGE',
      'MSH-9',
      '200',
    ]);
  });

  it('names the field of a failed rule for ERR-2 with its table 0357 code, and never the value', async () => {
    const t = await translatorFor(ihe);
    // Only identity and time reject (a secondary value is dropped with a flag): the start.
    // TQ1-7, read before SCH-11.4 since issue 18.
    const start = fail(
      t,
      hl7Fixture('siu-s12-new-appointment')
        .toString('utf8')
        .replace('|20250317093000+0100|20250317095000+0100', '|2025-03-17|20250317095000+0100'),
    );
    expect([start.code, start.details['hl7Path'], start.details['hl7ErrorCode']]).toEqual([
      'ERR_MAPPING_TRANSFORM',
      'TQ1-7',
      '102',
    ]);
    expect(start.message).not.toContain('2025-03-17');
    const noId = fail(
      t,
      hl7Fixture('siu-s24-unblocked-slot').toString('utf8').replace('PLG-0042^LOGICIEL-CABINET', ''),
    );
    expect([noId.code, noId.details['hl7Path'], noId.details['hl7ErrorCode']]).toEqual([
      'ERR_MAPPING_MISSING_ID',
      'SCH-2.1',
      '101',
    ]);
    const text = JSON.stringify([start.message, noId.message, start.details]);
    expect(
      fixturePatients()
        .flatMap(identifyingValues)
        .filter((v) => v.length > 3 && text.includes(v)),
    ).toEqual([]);
  });

  it('reduces profile paths to codec paths for ERR-2', () => {
    expect(
      [
        'PID-3[4.2=1.2.250.1.999.1.1].1',
        'PID-13[3=CP].12',
        'SCH-11.4',
        'SCH-2.1 | SCH-1.1',
        'NTE[1]-3',
        'OBX[2]-5',
        'not a path',
        null,
      ].map(errorLocation),
    ).toEqual(['PID-3', 'PID-13', 'SCH-11.4', 'SCH-2.1', 'NTE[1]-3', 'OBX[2]-5', undefined, undefined]);
  });

  it('has no outbound message for a kind or event the profile does not send (dead letter, not retried)', async () => {
    const t = await translatorFor(ihe);
    const patient = t.toRecords(parseHl7(a28), ctx).records[0] as ExternalRecord;
    expect(() => t.fromChange({ ...changeOf(ihe, [patient]), op: 'delete' }, out('P-4'))).toThrow(
      expect.objectContaining({ code: 'ERR_MAPPING_NO_OUTBOUND', retryable: false }),
    );
  });
});

describe('loading the link’s profile', () => {
  it('keeps the link from starting when its profile is not an HL7 profile', async () => {
    const t = new ProfileTranslator({
      link,
      timezone: 'Europe/Paris',
      log,
      mapping: async () => ({ plan: shippedPlan('fhir-r4-fr-core'), context: {} }),
    });
    await expect(t.start()).rejects.toMatchObject({
      code: 'ERR_CONNECTOR_CONFIG_INVALID',
      issues: [{ path: 'profile', message: 'profile fhir-r4-fr-core is fhir-r4, not hl7v2' }],
    });
  });

  it('falls back to the link’s shipped profile without a mapping accessor, and refuses an unknown one', async () => {
    const t = new ProfileTranslator({
      link: { ...link, profile: 'hl7v2-generic-2.5' },
      timezone: 'Europe/Paris',
      log,
    });
    await t.start();
    expect(t.plan?.name).toBe('hl7v2-generic-2.5');
    const bad = new ProfileTranslator({
      link: { ...link, profile: 'hl7v2-ihe-pam-fx' },
      timezone: 'Europe/Paris',
      log,
    });
    await expect(bad.start()).rejects.toMatchObject({
      code: 'ERR_CONNECTOR_CONFIG_INVALID',
      message: expect.stringContaining('did you mean hl7v2-ihe-pam-fr'),
    });
  });

  it('keeps the running plan when a reload fails, and takes the new one when it succeeds', async () => {
    let current: () => MappingPlan = () => shippedPlan('hl7v2-ihe-pam-fr');
    const t = await translatorFor(() => current());
    current = () => {
      throw new PasserelleError('ERR_STORE_UNAVAILABLE', 'store down', { retryable: true });
    };
    await expect(t.refresh()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(t.plan?.name).toBe('hl7v2-ihe-pam-fr');
    const renamed = planFromText(
      shippedProfileText('hl7v2-ihe-pam-fr').replace('name: hl7v2-ihe-pam-fr', 'name: logiciel-x'),
      'test',
    );
    current = () => renamed;
    await t.refresh();
    expect(t.plan?.name).toBe('logiciel-x');
    expect(t.toRecords(parseHl7(hl7Fixture('adt-a28-create')), ctx).records).toHaveLength(1);
  });

  it('answers ERR_SYNC_NOT_RUNNING (retryable) for a message before its profile is loaded', () => {
    const t = new ProfileTranslator({ link, timezone: 'Europe/Paris', log });
    expect(() => t.toRecords(parseHl7(hl7Fixture('adt-a28-create')), ctx)).toThrow(
      expect.objectContaining({ code: 'ERR_SYNC_NOT_RUNNING', retryable: true }),
    );
  });
});
