/**
 * Issue 18, "Tests that must exist": the interoperability corpus. Every real message of
 * test/fixtures/hl7/corpus (README.md there cites each one's source) goes over MLLP, as is, to
 * an hl7v2 link running the shipped profile its manifest entry names (one listener per shipped
 * HL7 v2 profile, one SQLite store), through the real connector, mapping engine and sync engine;
 * then its outcome, warning flags and every canonical field the manifest lists (read by a human
 * from the message, not from passerelle's output) are checked. The official FHIR R4 and FR Core
 * examples (test/fixtures/fhir/corpus-manifest.yaml) are served by the FHIR peer and read by the
 * FHIR connector through the shipped FHIR profile, and checked the same way.
 *
 * A field or outcome marked `gap:` is one the shipped profile gets wrong today: the test asserts
 * it is still wrong, so that fixing it fails here until the manifest says the new truth.
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { parse as parseYaml } from 'yaml';

import { FhirConfig as FhirConfigSchema } from '../../connectors/fhir/config.js';
import { createFhirConnector } from '../../connectors/fhir/index.js';
import { type FhirPeer, startFhirPeer } from '../../connectors/fhir/peer/index.js';
import { acknowledgmentCodes } from '../../connectors/hl7v2/ack-policy.js';
import type { Hl7v2Link } from '../../connectors/hl7v2/index.js';
import { profileTranslatorFactory } from '../../connectors/hl7v2/index.js';
import type { Connector } from '../../src/connector/contract.js';
import { parseHl7 } from '../../src/hl7/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { shippedPlan, shippedProfileNames } from '../../src/mapping/index.js';
import type { ResourceKind } from '../../src/model/resources.js';
import type { Link } from '../../src/store/types.js';
import { fixturePath } from '../helpers/fixtures.js';
import { type Hl7LinkHarness, listenConfig, parseAck, RawMllpSocket, startHl7Link } from '../helpers/hl7.js';
import { until } from '../helpers/until.js';

type Scalar = string | number | boolean | null;
/** An expected value, or one that the profile gets wrong today. */
type Expected = Scalar | Scalar[] | { value: Scalar | Scalar[]; gap: string };

interface Entry {
  readonly file: string;
  readonly source: { repo: string; path: string; lines?: string; commit: string };
  readonly profile: string;
  readonly outcome: 'applied' | 'applied-with-warnings' | 'rejected';
  /** The warning flags the message must raise (none for `applied`). */
  readonly flags?: readonly string[];
  /** The flags are wrong today (what passerelle raises instead). */
  readonly flagsGap?: string;
  /** The outcome is wrong today (what passerelle does instead). */
  readonly outcomeGap?: string;
  /** For `rejected`: what the error must name. */
  readonly rejects?: string;
  /** The error does not name it today (what it says instead). */
  readonly rejectsGap?: string;
  readonly patient?: Record<string, Expected>;
  readonly appointment?: Record<string, Expected>;
}

const manifest = parseYaml(readFileSync(fixturePath('hl7', 'corpus', 'manifest.yaml'), 'utf8')) as {
  messages: Entry[];
};
const entries = manifest.messages;

type Json = Record<string, unknown>;
/** How many checks the manifest asks for: one per listed field (ids excepted), one per outcome's flags or rejection. */
const countExpectations = (): number =>
  entries.reduce(
    (n, e) =>
      n +
      (e.outcomeGap
        ? 0
        : e.outcome === 'rejected'
          ? 1
          : 1 +
            Object.keys(e.patient ?? {}).length -
            (e.patient ? 1 : 0) +
            Object.keys(e.appointment ?? {}).length -
            (e.appointment ? 1 : 0)),
    0,
  );
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const nameOf = (p: Json, use: string): Json | undefined => arr(p['name']).find((n) => n['use'] === use);
const telecom = (p: Json, system: string, use?: string): string | null =>
  (arr(p['telecom']).find((t) => t['system'] === system && (use === undefined || t['use'] === use))?.[
    'value'
  ] as string | undefined) ?? null;

/** Flags that describe what happened, not a problem with the message. */
const INFORMATIONAL = new Set([
  'created',
  'updated',
  'deleted',
  'unchanged',
  'identifier-changed',
  'own-write',
  'patient-matched-ins',
]);

/** The canonical value a manifest key names. */
function readPatient(p: Json, key: string): unknown {
  const [head, sub] = key.split('.') as [string, string | undefined];
  switch (head) {
    case 'identifier': {
      // identifier.<system>: the value under that system.
      const system = key.slice('identifier.'.length);
      return (
        (arr(p['identifier']).find((i) => i['system'] === system)?.['value'] as string | undefined) ?? null
      );
    }
    case 'family':
      return (nameOf(p, sub ?? 'official')?.['family'] as string | undefined) ?? null;
    case 'given':
      return (nameOf(p, sub ?? 'official')?.['given'] as string[] | undefined) ?? null;
    case 'birthDate':
      return p['birthDate'] ?? null;
    case 'gender':
      return p['gender'] ?? null;
    case 'phone':
      return telecom(p, 'phone', sub);
    case 'email':
      return telecom(p, 'email');
    case 'address':
      // address.line / address.city / address.postalCode of the first address.
      return (arr(p['address'])[0]?.[sub ?? ''] as unknown) ?? null;
    default:
      throw new Error(`unknown patient key ${key}`);
  }
}

describe('the HL7 v2 interoperability corpus through the shipped profiles (sqlite store)', () => {
  let h: Hl7LinkHarness;
  const sockets = new Map<string, RawMllpSocket>();
  const linkOf = new Map<string, string>();

  beforeAll(async () => {
    let pamLink = '';
    h = await startHl7Link({
      kind: 'sqlite',
      config: listenConfig(),
      profile: 'hl7v2-generic-2.5',
      connectorOptions: { translator: profileTranslatorFactory() },
      before: async (store, practiceId) => {
        pamLink = (
          await store.links.create({
            practiceId,
            role: 'practice',
            connector: 'hl7v2',
            name: 'IHE PAM',
            config: listenConfig(),
            isTest: true,
            profile: 'hl7v2-ihe-pam-fr',
          })
        ).id;
      },
    });
    linkOf.set('hl7v2-generic-2.5', h.link.id);
    linkOf.set('hl7v2-ihe-pam-fr', pamLink);
    for (const [profile, linkId] of linkOf) {
      const port = (h.runtime.connectorOf(linkId) as Hl7v2Link | undefined)?.mllpPort;
      if (port === undefined) throw new Error(`no listener for ${profile}`);
      sockets.set(profile, await RawMllpSocket.connect(port));
    }
  }, 30_000);
  afterAll(async () => {
    for (const s of sockets.values()) s.destroy();
    await h?.dispose();
  });

  it('has at least 40 messages from at least 8 sources, every file listed once, every shipped HL7 v2 profile used', () => {
    expect(entries.length).toBeGreaterThanOrEqual(40);
    expect(new Set(entries.map((e) => e.source.repo)).size).toBeGreaterThanOrEqual(8);
    expect(new Set(entries.map((e) => e.file)).size).toBe(entries.length);
    const hl7Profiles = shippedProfileNames().filter((n) => n.startsWith('hl7v2-'));
    expect(new Set(entries.map((e) => e.profile))).toEqual(new Set(hl7Profiles));
  });

  it('gives every listed field of every message (and still gets each recorded gap wrong)', async () => {
    const problems: string[] = [];
    const gapsFixed: string[] = [];
    let checked = 0;
    let lastSeq = 0;
    for (const e of entries) {
      const bytes = readFileSync(fixturePath('hl7', 'corpus', e.file));
      // A message whose MSH passerelle cannot parse still gets one (negative) ACK.
      let msh: { get(path: string): string | undefined } = { get: () => undefined };
      try {
        msh = parseHl7(bytes);
      } catch {
        // unparseable: original-mode answer
      }
      const applies = e.outcome !== 'rejected';
      const expectedVerdict = (e.outcomeGap ? !applies : applies) ? 'applied' : 'error';
      const codes = acknowledgmentCodes(msh.get('MSH-15'), msh.get('MSH-16'), expectedVerdict);
      const socket = sockets.get(e.profile) as RawMllpSocket;
      const linkId = linkOf.get(e.profile) as string;
      const before = socket.blocks.length;
      socket.send(bytes);
      let appCode: string | undefined;
      let reason: string | undefined;
      if (codes.length > 0) {
        const blocks = await socket.waitForBlocks(before + codes.length);
        for (const b of blocks.slice(before)) {
          const a = parseAck(b);
          if (a.code?.startsWith('A')) {
            appCode = a.code;
            reason = a.message.get('ERR-8') ?? a.message.get('MSA-3');
          }
        }
      }
      const find = (k: ResourceKind, id: string) => h.store.identityMap.findCanonical(linkId, k, id);
      const record = async (k: ResourceKind, id: string): Promise<Json | undefined> => {
        const canonical = await find(k, id);
        return canonical === undefined
          ? undefined
          : ((await h.store.resources.get(canonical))?.data as Json | undefined);
      };
      // Without an application ACK (MSH-16 NE), the record's arrival says it was applied.
      const mainKind: ResourceKind = e.appointment ? 'Appointment' : 'Patient';
      const mainId = (e.appointment ?? e.patient)?.['id'] as string | undefined;
      if (appCode === undefined && mainId !== undefined && expectedVerdict === 'applied')
        await until(`${e.file} applied`, () => find(mainKind, mainId));
      // The warning flags of this message's applied changes (its sync.apply audit events).
      const events = await h.store.audit.list({ action: 'sync.apply', afterSeq: lastSeq });
      lastSeq = events.reduce((m, ev) => Math.max(m, ev.seq), lastSeq);
      const flags = [
        ...new Set(events.flatMap((ev) => (ev.details as { flags?: string[] } | null)?.flags ?? [])),
      ]
        .filter((f) => !INFORMATIONAL.has(f))
        .sort();
      const actualOutcome =
        appCode === 'AA' || (appCode === undefined && expectedVerdict === 'applied')
          ? flags.length > 0
            ? 'applied-with-warnings'
            : 'applied'
          : 'rejected';
      const sameOutcome =
        e.outcome === 'rejected' ? actualOutcome === 'rejected' : actualOutcome !== 'rejected';
      if (e.outcomeGap) {
        if (sameOutcome) gapsFixed.push(`${e.file}: outcome ${e.outcome} (was gap: ${e.outcomeGap})`);
        continue;
      }
      if (!sameOutcome) {
        problems.push(`${e.file}: expected ${e.outcome}, got ${appCode ?? 'no ACK'} ${reason ?? ''}`);
        continue;
      }
      if (applies) {
        const sameFlags = JSON.stringify(flags) === JSON.stringify([...(e.flags ?? [])].sort());
        if ((e.outcome === 'applied-with-warnings') !== (e.flags ?? []).length > 0)
          problems.push(
            `${e.file}: outcome ${e.outcome} and flags ${JSON.stringify(e.flags ?? [])} disagree`,
          );
        if (e.flagsGap && sameFlags)
          gapsFixed.push(`${e.file}: flags now ${JSON.stringify(flags)} (was gap: ${e.flagsGap})`);
        if (!e.flagsGap && !sameFlags)
          problems.push(
            `${e.file}: expected flags ${JSON.stringify(e.flags ?? [])}, got ${JSON.stringify(flags)}`,
          );
        checked++;
      }
      if (e.outcome === 'rejected') {
        const named = e.rejects !== undefined && (reason ?? '').includes(e.rejects);
        if (e.rejectsGap && named)
          gapsFixed.push(`${e.file}: rejection now names ${e.rejects} (was gap: ${e.rejectsGap})`);
        if (!e.rejectsGap && e.rejects && !named)
          problems.push(`${e.file}: rejection "${reason ?? ''}" does not name ${e.rejects}`);
        checked++;
        continue;
      }
      const check = (what: string, actual: unknown, expected: Expected) => {
        const gap =
          typeof expected === 'object' && expected !== null && !Array.isArray(expected)
            ? expected
            : undefined;
        const want = gap ? gap.value : expected;
        const same = JSON.stringify(actual) === JSON.stringify(want);
        checked++;
        if (gap && same)
          gapsFixed.push(`${e.file} ${what}: now ${JSON.stringify(want)} (was gap: ${gap.gap})`);
        if (!gap && !same)
          problems.push(`${e.file} ${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`);
      };
      if (e.patient) {
        const p = await record('Patient', String(e.patient['id']));
        if (!p) problems.push(`${e.file}: no Patient ${String(e.patient['id'])}`);
        else
          for (const [k, v] of Object.entries(e.patient))
            if (k !== 'id') check(`Patient.${k}`, readPatient(p, k), v);
      }
      if (e.appointment) {
        const a = await record('Appointment', String(e.appointment['id']));
        if (!a) {
          problems.push(`${e.file}: no Appointment ${String(e.appointment['id'])}`);
          continue;
        }
        // A participant is checked by the sender's id of the record it points to.
        const participantOf = async (kind: ResourceKind, want: unknown): Promise<unknown> => {
          const ref = arr(a['participant'])
            .map((x) => String((x['actor'] as Json | undefined)?.['reference'] ?? ''))
            .find((r) => r.startsWith(`${kind}/`));
          if (ref === undefined) return null;
          const expectedCanonical = typeof want === 'string' ? await find(kind, want) : undefined;
          return ref === `${kind}/${expectedCanonical ?? ''}` ? want : `other:${ref}`;
        };
        for (const [k, v] of Object.entries(e.appointment)) {
          if (k === 'id') continue;
          const want = typeof v === 'object' && v !== null && !Array.isArray(v) ? v.value : v;
          if (k === 'practitioner')
            check('Appointment.practitioner', await participantOf('Practitioner', want), v);
          else if (k === 'patient') check('Appointment.patient', await participantOf('Patient', want), v);
          else check(`Appointment.${k}`, a[k] ?? null, v);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(gapsFixed).toEqual([]);
    // Every listed field was looked at.
    expect(checked).toBe(countExpectations());
  }, 120_000);
});

interface FhirEntry {
  readonly file: string;
  readonly outcome: 'accepted' | 'refused';
  readonly outcomeGap?: string;
  /** For `refused`: the path the error must name. */
  readonly refuses?: string;
  readonly fields?: Record<string, Expected>;
}
const fhirManifest = parseYaml(readFileSync(fixturePath('fhir', 'corpus-manifest.yaml'), 'utf8')) as {
  profile: string;
  resources: FhirEntry[];
};

/** The canonical value a FHIR manifest key names. */
function readFhir(d: Json, key: string): unknown {
  const dot = key.indexOf('.');
  const [head, rest] = dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
  const name = (use: string | undefined): Json | undefined =>
    use === 'any' ? arr(d['name'])[0] : nameOf(d, use ?? 'official');
  switch (head) {
    case 'identifier':
      return (
        (arr(d['identifier']).find((i) => i['system'] === rest)?.['value'] as string | undefined) ?? null
      );
    case 'family':
      return (name(rest)?.['family'] as string | undefined) ?? null;
    case 'given':
      return (name(rest)?.['given'] as string[] | undefined) ?? null;
    case 'phone':
      return telecom(d, 'phone', rest);
    case 'email':
      return telecom(d, 'email');
    case 'participant':
      return (
        (arr(d['participant'])
          .map((p) => (p['actor'] as Json | undefined)?.['reference'])
          .find((r) => typeof r === 'string' && r.startsWith(`${rest ?? ''}/`)) as string | undefined) ?? null
      );
    case 'actor':
      return (arr(d['actor'])[0]?.['reference'] as string | undefined) ?? null;
    case 'schedule':
      return ((d['schedule'] as Json | undefined)?.['reference'] as string | undefined) ?? null;
    case 'payload':
      return (arr(d['payload'])[0]?.['contentString'] as string | undefined) ?? null;
    default:
      return d[key] ?? null;
  }
}

describe('the official FHIR R4 and FR Core examples through the FHIR peer and the shipped FHIR profile', () => {
  let peer: FhirPeer;
  const files = fhirManifest.resources;
  beforeAll(async () => {
    peer = await startFhirPeer();
    await peer.seed(
      files.map((f) => JSON.parse(readFileSync(fixturePath('fhir', f.file), 'utf8')) as Resource),
    );
  });
  afterAll(async () => {
    await peer?.close();
  });

  it('reads every resource as a human reads it (and still gets each recorded gap wrong)', async () => {
    const plan = shippedPlan(fhirManifest.profile);
    const config = FhirConfigSchema.parse({
      baseUrl: peer.url,
      timeoutMs: 2000,
      retry: { max: 1, baseDelayMs: 10, maxDelayMs: 100 },
    });
    const link: Link = {
      id: 'lnk-corpus',
      practiceId: 'prac-corpus',
      role: 'practice',
      connector: 'fhir',
      name: 'FHIR corpus',
      profile: fhirManifest.profile,
      config: {},
      secrets: null,
      schedule: null,
      isTest: true,
      enabled: true,
      version: 1,
      createdAt: '',
      updatedAt: '',
    };
    const connector = createFhirConnector(config, {
      link,
      secrets: null,
      log: silentLogger,
      now: Date.now,
      signal: new AbortController().signal,
      timezone: 'Europe/Paris',
      publicUrl: '',
      mapping: async () => ({ plan, context: { timezone: 'Europe/Paris', testLink: true } }),
      requestPoll: () => undefined,
    });
    const pull = connector.pull as NonNullable<Connector['pull']>;
    const records = new Map<string, Json>();
    const refusals = new Map<string, string>();
    let next: string | null = null;
    for (let page = 0; page < 50; page++) {
      const p = await pull(next, 100);
      for (const r of p.records) records.set(`${r.kind}/${r.externalId}`, r.data as unknown as Json);
      for (const bad of p.invalid ?? []) {
        const body = bad.dedupe?.body ? (JSON.parse(bad.dedupe.body.toString('utf8')) as Json) : undefined;
        refusals.set(
          body ? `${String(body['resourceType'])}/${String(body['id'])}` : `?${refusals.size}`,
          bad.error.message,
        );
      }
      next = p.next ?? next;
      if (!p.hasMore) break;
    }
    const problems: string[] = [];
    const gapsFixed: string[] = [];
    let checked = 0;
    for (const f of files) {
      const raw = JSON.parse(readFileSync(fixturePath('fhir', f.file), 'utf8')) as Json;
      const key = `${String(raw['resourceType'])}/${String(raw['id'])}`;
      const data = records.get(key);
      const actual = data ? 'accepted' : refusals.has(key) ? 'refused' : 'missing';
      if (f.outcomeGap) {
        if (actual === f.outcome) gapsFixed.push(`${f.file}: now ${f.outcome} (was gap: ${f.outcomeGap})`);
        else if (actual === 'missing') problems.push(`${f.file}: neither read nor refused`);
        continue;
      }
      if (actual !== f.outcome) {
        problems.push(`${f.file}: expected ${f.outcome}, got ${actual} ${refusals.get(key) ?? ''}`);
        continue;
      }
      if (f.outcome === 'refused') {
        if (f.refuses && !(refusals.get(key) ?? '').includes(f.refuses))
          problems.push(`${f.file}: refusal does not name ${f.refuses}`);
        checked++;
        continue;
      }
      for (const [k, expected] of Object.entries(f.fields ?? {})) {
        const gap =
          typeof expected === 'object' && expected !== null && !Array.isArray(expected)
            ? expected
            : undefined;
        const want = gap ? gap.value : expected;
        const same = JSON.stringify(readFhir(data as Json, k)) === JSON.stringify(want);
        checked++;
        if (gap && same) gapsFixed.push(`${f.file} ${k}: now ${JSON.stringify(want)} (was gap: ${gap.gap})`);
        if (!gap && !same)
          problems.push(
            `${f.file} ${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(readFhir(data as Json, k))}`,
          );
      }
    }
    expect(problems).toEqual([]);
    expect(gapsFixed).toEqual([]);
    expect(checked).toBe(
      files.reduce(
        (n, f) => n + (f.outcomeGap ? 0 : f.outcome === 'refused' ? 1 : Object.keys(f.fields ?? {}).length),
        0,
      ),
    );
  }, 60_000);
});
