/**
 * HL7 v2 message semantics end to end, through the whole service (default modules: mapping,
 * sync with the product registry, iCal, reports) on 127.0.0.1: a practice whose practice link is
 * an hl7v2 link running the shipped IHE PAM France profile (MLLP listener on port 0, sending to
 * the HL7 simulator), and whose secretariat link talks to the secretariat simulator (signed
 * webhooks back to the service).
 *
 * Inbound, every trigger of test/fixtures/hl7 (S12, S13, S14, S15, S17, S26, S23, S24, A04, A08,
 * A28, A31, A40, A47) becomes the expected canonical change and reaches the secretariat as a
 * booking, a move, a cancellation, a no-show, a blocked or reopened slot, a patient's identity or
 * contact. Where an event needs a record to act on (a move needs a booking), the booking is first
 * made by an S12 derived from the same fixture (its MSH-9, control id and a few fields changed,
 * every other byte as in the fixture).
 *
 * Outbound, what an agent does on the secretariat platform reaches the practice software as the
 * profile says: SIU S12/S13/S15, ADT A28/A31, MDM^T02 — and ORU^R01 once the link runs the
 * generic profile. Messages are sent in original acknowledgment mode (MSH-15/16 emptied) so that
 * the ACK tells the application outcome: AA applied, AE refused.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7v2Link } from '../../../connectors/hl7v2/index.js';
import { Hl7Simulator } from '../../../connectors/hl7v2/simulator/index.js';
import type { Patient as SimPatient } from '../../../connectors/secretariat/contract.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../../connectors/secretariat/simulator/index.js';
import { defaultConnectorRegistry } from '../../../src/app/connectors.js';
import { icalModule } from '../../../src/app/features/ical.js';
import { mappingModule } from '../../../src/app/features/mapping.js';
import { reportsModule } from '../../../src/app/features/reports.js';
import { syncModule } from '../../../src/app/features/sync.js';
import { type Hl7Message, parseHl7 } from '../../../src/hl7/index.js';
import { shippedProfileText } from '../../../src/mapping/index.js';
import type { Appointment, Patient, ResourceKind } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { generateWebhookSecret } from '../../../src/security/webhook-signature.js';
import type { SyncRuntime } from '../../../src/sync/runtime.js';
import { hl7Fixture, parseAck, RawMllpSocket, withControlId, withField } from '../../helpers/hl7.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { tempDir } from '../../helpers/stores.js';
import { until } from '../../helpers/until.js';

const IPP = (id: string) => `${id}^^^CABINET-TEST&1.2.250.1.999.1.1&ISO^PI`;
/** The secretariat link's own types: they win over the catalogue of the HL7 link's profile. */
const APPOINTMENT_TYPES = [
  {
    id: 'ECHO',
    label: 'Échographie (au cabinet uniquement)',
    durationMinutes: 30,
    instructions: 'Ne pas réserver : transférer au cabinet.',
  },
];

/** In original acknowledgment mode, with its own control id. */
function original(raw: Buffer, controlId: string): Buffer {
  return withControlId(withField(withField(raw, 'MSH', 15, ''), 'MSH', 16, ''), controlId);
}

/** The fixture turned into the S12 that first booked its appointment (same bytes otherwise). */
function bookingOf(raw: Buffer, controlId: string, version25 = true): Buffer {
  const booked = withField(
    withField(raw, 'MSH', 9, version25 ? 'SIU^S12^SIU_S12' : 'SIU^S12'),
    'SCH',
    25,
    'Booked^Booked^HL70278',
  );
  return original(booked, controlId);
}

describe.each(['sqlite', 'postgres'] as const)(
  'HL7 v2 practice software ⇄ passerelle ⇄ secretariat, through the whole service (%s store)',
  (storeKind) => {
    const dir = tempDir('passerelle-hl7sync-');
    const SECRET = generateWebhookSecret();
    // The default modules (src/app/modules.ts), with quick retries and no periodic link refresh.
    const mapping = mappingModule({ refreshMs: 0 });
    const sync = syncModule({
      registry: defaultConnectorRegistry(),
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      runtime: { refreshMs: 0 },
      dispatcher: {
        backoff: { baseMs: 50, capMs: 500 },
        idleWakeMs: 100,
        dependencyWaitMs: 20,
        maxAttempts: 6,
      },
    });
    let t: TestService;
    let runtime: SyncRuntime;
    let sim: SecretariatSimulator;
    let practiceSoftware: Hl7Simulator;
    let integrator: string;
    let practiceId: string;
    let secLinkId: string;
    let hl7LinkId: string;
    let socket: RawMllpSocket;
    let seq = 0;

    const json = async <T>(res: Response, status: number): Promise<T> => {
      const body = await res.text();
      if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
      return (body ? JSON.parse(body) : undefined) as T;
    };
    const store = () => t.service.store;
    /** Sends one message to passerelle's listener; resolves with the ACK code and the ACK. */
    const send = async (raw: Buffer): Promise<{ code: string | undefined; ack: Hl7Message }> => {
      const a = parseAck(await socket.request(raw));
      return { code: a.code, ack: a.message };
    };
    const nextId = (what: string) => `T-${what}-${++seq}`;
    /** Sends the fixture as is (original ACK mode, fresh control id) and expects AA. */
    const apply = async (raw: Buffer, what: string) => {
      const r = await send(original(raw, nextId(what)));
      expect([what, r.code, r.ack.get('ERR-8')]).toEqual([what, 'AA', undefined]);
    };
    const canonicalOf = (kind: ResourceKind, hl7Id: string) =>
      store().identityMap.findCanonical(hl7LinkId, kind, hl7Id);
    /** The secretariat's id of a practice-software record, through the identity map. */
    const onSim = async (kind: ResourceKind, hl7Id: string): Promise<string | undefined> => {
      const canonical = await canonicalOf(kind, hl7Id);
      return canonical === undefined
        ? undefined
        : (await store().identityMap.findExternal(secLinkId, kind, canonical))[0];
    };
    const simAppointment = async (hl7Id: string) =>
      sim.state.get('appointment', (await onSim('Appointment', hl7Id)) as string);
    const simPatient = async (hl7Id: string) =>
      sim.state.get('patient', (await onSim('Patient', hl7Id)) as string) as SimPatient;
    const drained = async () => {
      const [a, b] = [await store().outbox.depth(secLinkId), await store().outbox.depth(hl7LinkId)];
      return a.pending + a.leased + b.pending + b.leased === 0;
    };
    /** Everything sent both ways, and the webhooks of what was sent, handled. */
    const settled = async () => {
      for (let round = 0; round < 3; round++) {
        await until('the outbox to drain', drained);
        await sim.webhooksIdle();
      }
      await until('the outbox to drain', drained);
    };
    const noDeadLetters = async () => {
      const open = await store().deadLetters.list({ status: 'open', practiceId, limit: 10 });
      expect(open.map((d) => [d.source, d.kind, d.reasonCode, d.reason])).toEqual([]);
    };
    /** Messages the practice software received after the first `from`, parsed. */
    const received = (from: number) => practiceSoftware.received.slice(from).map((m) => parseHl7(m.raw));

    beforeAll(async () => {
      practiceSoftware = await Hl7Simulator.start({ port: 0 });
      sim = await startSecretariatSimulator({
        port: 0,
        host: '127.0.0.1',
        stateFile: join(dir.path, 'simulator.json'),
        seed: 'empty',
      });
      t = await startTestService({
        store: storeKind,
        modules: [mapping, sync, icalModule(), reportsModule()],
      });
      runtime = sync.runtimeOf(t.service.context);
      integrator = (
        await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
      ).key;
      practiceId = (
        await json<{ id: string }>(
          await t.api('/api/v1/practices', {
            method: 'POST',
            json: { name: 'Cabinet des Essais', timezone: 'Europe/Paris' },
          }),
          201,
        )
      ).id;
      const link = async (body: object) =>
        (
          await json<{ id: string }>(
            await t.api('/api/v1/links', { method: 'POST', key: integrator, json: { practiceId, ...body } }),
            201,
          )
        ).id;
      secLinkId = await link({
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat',
        isTest: true,
        config: {
          baseUrl: sim.url,
          platformPracticeId: sim.practiceId,
          timeoutMs: 2000,
          appointmentTypes: APPOINTMENT_TYPES,
          retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterSeconds: 5 },
        },
        secrets: { apiToken: sim.apiToken, webhookSecret: SECRET },
        schedule: '0 0 1 1 *',
      });
      // The fixtures carry the INS test OID: the link is a test link.
      hl7LinkId = await link({
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel du cabinet',
        isTest: true,
        config: {
          mllp: {
            listen: { host: '127.0.0.1', port: 0 },
            send: {
              host: '127.0.0.1',
              port: practiceSoftware.port,
              ackTimeoutMs: 3000,
              connectTimeoutMs: 1000,
            },
          },
        },
      });
      sim.setWebhook({
        url: `${t.url}/hooks/secretariat/${secLinkId}`,
        secrets: [SECRET],
        retryDelaysMs: [50, 200],
      });
      await runtime.refresh();
      socket = await RawMllpSocket.connect((runtime.connectorOf(hl7LinkId) as Hl7v2Link).mllpPort as number);
    }, 60_000);

    afterAll(async () => {
      socket?.destroy();
      await t?.dispose();
      await sim?.close();
      await practiceSoftware?.close();
      dir.remove();
    });

    it('publishes the practice software profile’s appointment types with their consignes to the secretariat, the link’s own types winning', async () => {
      await runtime.pollLink(secLinkId);
      const types = new Map(sim.state.list('appointment-type').map((t) => [t.id, t]));
      expect([...types.keys()].sort()).toEqual(['CONS', 'CONS-LONG', 'CONS-SUIVI', 'ECHO']);
      expect(types.get('CONS-LONG')).toMatchObject({
        label: 'Consultation longue et bilan',
        durationMinutes: 40,
        instructions: "Réserver uniquement avec l'accord du médecin ; demander le motif précis.",
        active: true,
      });
      expect(types.get('CONS')).toMatchObject({
        label: 'Consultation',
        durationMinutes: 15,
        instructions: null,
      });
      expect(types.get('ECHO')).toMatchObject({
        label: 'Échographie (au cabinet uniquement)',
        instructions: 'Ne pas réserver : transférer au cabinet.',
      });
    });

    describe('what the practice software sends', () => {
      it('follows a change of patient identifier (A47): the record known under the old IPP keeps its identity under the new one', async () => {
        // The practice software first knew Jeanne under a mistyped IPP, without her INS.
        let a28 = hl7Fixture('adt-a28-create');
        a28 = withField(
          withField(
            withField(
              withField(a28, 'PID', 3, IPP('IPP000110')),
              'PID',
              5,
              'FICTIVE^Jeanne^Jeanne Odile^^^^L',
            ),
            'PID',
            7,
            '19850314',
          ),
          'PID',
          8,
          'F',
        );
        await apply(withField(a28, 'PID', 13, ''), 'a28-ipp000110');
        await settled();
        const before = await simPatient('IPP000110');
        expect(before.identity).toMatchObject({ family: 'FICTIVE', reliability: 'PROV' });
        expect(before.ins).toBeNull();

        await apply(hl7Fixture('adt-a47-identifier-change'), 'a47');
        await settled();
        // The identity map follows the new IPP; the old one still finds the same patient (a late
        // message under it is stale, never a second patient), and what is sent carries the new one.
        const canonical = await canonicalOf('Patient', 'IPP000101');
        expect(canonical).toBeDefined();
        expect(await store().identityMap.findExternal(hl7LinkId, 'Patient', canonical as string)).toEqual([
          'IPP000110',
          'IPP000101',
        ]);
        expect(await canonicalOf('Patient', 'IPP000110')).toBe(canonical);
        // The same patient on the platform, now with the qualified identity the A47 carries.
        expect(await onSim('Patient', 'IPP000101')).toBe(before.id);
        const after = await simPatient('IPP000101');
        expect(after.identity).toMatchObject({
          family: 'FICTIVE',
          usedFamily: 'IMAGINAIRE',
          reliability: 'VALI',
        });
        expect(after.ins).toEqual({ type: 'INS-NIR-TEST', value: '285037511234544' });
        expect(sim.state.list('patient').filter((p) => p.identity.family === 'FICTIVE')).toHaveLength(1);
        await noDeadLetters();
      });

      it('books on SIU^S12: the practitioner, the patient and the appointment reach the secretariat', async () => {
        await apply(hl7Fixture('siu-s12-new-appointment'), 's12');
        await settled();
        const apt = await simAppointment('RDV000123');
        const practitioner = sim.state.list('practitioner').find((p) => p.rpps === '19999900012');
        expect(practitioner).toMatchObject({
          family: 'DOCTEUR-FICTIF',
          given: ['Alice'],
          title: 'DR',
          active: true,
        });
        expect(apt).toMatchObject({
          status: 'booked',
          start: '2025-03-17T08:30:00.000Z',
          end: '2025-03-17T08:50:00.000Z',
          practitionerId: practitioner?.id,
          patientId: await onSim('Patient', 'IPP000101'),
          appointmentTypeId: 'CONS-SUIVI',
          note: 'Rendez-vous pris par le secrétariat à distance',
          bookedBy: 'SEC01',
        });
        const stored = (
          await store().resources.get((await canonicalOf('Appointment', 'RDV000123')) as string)
        )?.data as unknown as Appointment;
        expect(stored).toMatchObject({
          status: 'booked',
          minutesDuration: 20,
          serviceType: [{ coding: [{ code: 'CONS-SUIVI' }] }],
        });
        await noDeadLetters();
      });

      it('moves on SIU^S13', async () => {
        let first = bookingOf(hl7Fixture('siu-s13-reschedule'), nextId('s13-booking'));
        first = withField(
          withField(
            withField(first, 'SCH', 11, '^^M20^20250318101500+0100^20250318103500+0100'),
            'TQ1',
            7,
            '20250318101500+0100',
          ),
          'TQ1',
          8,
          '20250318103500+0100',
        );
        expect((await send(first)).code).toBe('AA');
        await settled();
        expect(await simAppointment('RDV000124')).toMatchObject({
          status: 'booked',
          start: '2025-03-18T09:15:00.000Z',
        });
        const simId = await onSim('Appointment', 'RDV000124');

        await apply(hl7Fixture('siu-s13-reschedule'), 's13');
        await settled();
        expect(await onSim('Appointment', 'RDV000124')).toBe(simId);
        expect(await simAppointment('RDV000124')).toMatchObject({
          status: 'booked',
          start: '2025-03-18T13:15:00.000Z',
          end: '2025-03-18T13:35:00.000Z',
        });
        // The patient known only by the INS of a qualified identity.
        expect((await simAppointment('RDV000124'))?.patientId).toBe(
          await onSim('Patient', '179016912345677'),
        );
        expect((await simPatient('179016912345677')).ins).toEqual({
          type: 'INS-NIR-TEST',
          value: '179016912345677',
        });
        await noDeadLetters();
      });

      it('modifies on SIU^S14, escapes resolved', async () => {
        let first = bookingOf(hl7Fixture('siu-s14-modify-escapes'), nextId('s14-booking'));
        first = withField(
          withField(first, 'AIS', 3, 'CONS-SUIVI^Consultation de suivi^L'),
          'NTE',
          3,
          'Premier motif',
        );
        expect((await send(first)).code).toBe('AA');
        await settled();
        expect(await simAppointment('RDV000125')).toMatchObject({
          appointmentTypeId: 'CONS-SUIVI',
          note: 'Premier motif',
        });

        const s14 = hl7Fixture('siu-s14-modify-escapes');
        await apply(s14, 's14');
        await settled();
        const note = parseHl7(s14).get('NTE-3');
        expect(note).toMatch(/^Apporter ordonnance & carte Vitale\.\nInterphone 12\|B \^ porte 4589~/);
        expect(await simAppointment('RDV000125')).toMatchObject({
          appointmentTypeId: 'CONS-LONG',
          note,
          start: '2025-03-17T08:30:00.000Z',
        });
        await noDeadLetters();
      });

      it('cancels on SIU^S15 (ISO-8859-1 message)', async () => {
        expect((await send(bookingOf(hl7Fixture('siu-s15-cancel-latin1'), nextId('s15-booking')))).code).toBe(
          'AA',
        );
        await settled();
        expect(await simAppointment('RDV000126')).toMatchObject({
          status: 'booked',
          appointmentTypeId: 'ECHO',
        });
        expect((await simPatient('IPP000303')).identity).toMatchObject({
          family: 'ESSAI',
          reliability: 'PROV',
        });

        await apply(hl7Fixture('siu-s15-cancel-latin1'), 's15');
        await settled();
        expect(await simAppointment('RDV000126')).toMatchObject({ status: 'cancelled' });
        await noDeadLetters();
      });

      it('cancels on SIU^S17 (a deletion is a cancellation; v2.3, times in the practice zone)', async () => {
        expect(
          (await send(bookingOf(hl7Fixture('siu-s17-delete-v23'), nextId('s17-booking'), false))).code,
        ).toBe('AA');
        await settled();
        // 10:00 without offset in Paris, in March: 09:00 UTC.
        expect(await simAppointment('RDV000127')).toMatchObject({
          status: 'booked',
          start: '2025-03-19T09:00:00.000Z',
          appointmentTypeId: 'CONS',
        });

        await apply(hl7Fixture('siu-s17-delete-v23'), 's17');
        await settled();
        expect(await simAppointment('RDV000127')).toMatchObject({ status: 'cancelled' });
        const stored = await store().resources.get((await canonicalOf('Appointment', 'RDV000127')) as string);
        expect(stored?.data).toMatchObject({ status: 'cancelled' });
        await noDeadLetters();
      });

      it('records a no-show on SIU^S26 (Z-segment kept, not read)', async () => {
        expect(
          (await send(bookingOf(hl7Fixture('siu-s26-noshow-zsegment'), nextId('s26-booking')))).code,
        ).toBe('AA');
        await settled();
        expect(await simAppointment('RDV000128')).toMatchObject({ status: 'booked' });

        await apply(hl7Fixture('siu-s26-noshow-zsegment'), 's26');
        await settled();
        expect(await simAppointment('RDV000128')).toMatchObject({ status: 'noshow' });
        await noDeadLetters();
      });

      it('blocks a slot on SIU^S23 and reopens it on S24, in the practitioner’s agenda', async () => {
        await apply(hl7Fixture('siu-s23-blocked-slot'), 's23');
        await settled();
        const slotId = (await onSim('Slot', 'PLG-0042')) as string;
        const practitioner = sim.state.list('practitioner').find((p) => p.rpps === '19999900012');
        expect(sim.state.get('slot', slotId)).toMatchObject({
          status: 'blocked',
          start: '2025-03-20T11:00:00.000Z',
          end: '2025-03-20T13:00:00.000Z',
          comment: 'Plage bloquée : formation',
          practitionerId: practitioner?.id,
          scheduleId: await onSim('Schedule', 'AGENDA-ALICE'),
        });

        await apply(hl7Fixture('siu-s24-unblocked-slot'), 's24');
        await settled();
        expect(sim.state.get('slot', slotId)).toMatchObject({ status: 'free', comment: 'Plage rouverte' });
        await noDeadLetters();
      });

      it('updates identities and contacts on ADT A04 (CRLF), A08 (LF), A28 and A31 (custom delimiters)', async () => {
        const lucie = await onSim('Patient', 'IPP000303');
        await apply(hl7Fixture('adt-a04-registration-crlf'), 'a04');
        await apply(hl7Fixture('adt-a08-update-lf'), 'a08');
        await apply(hl7Fixture('adt-a28-create'), 'a28');
        await apply(hl7Fixture('adt-a31-update-custom-delimiters'), 'a31');
        await settled();
        const jeanne = await simPatient('IPP000101');
        expect(jeanne.contact).toEqual({
          phones: [{ number: '+33612345678', use: 'mobile' }],
          email: 'jeanne.fictive@example.org',
          // A31: the second address line carried "#", the sub-component separator, escaped as $T$.
          address: {
            lines: ["12 rue de l'Exemple", 'Esc. A # 2'],
            postalCode: '75012',
            city: 'Testville',
            country: 'FRA',
          },
        });
        expect(jeanne.ins).toEqual({ type: 'INS-NIR-TEST', value: '285037511234544' });
        const paul = await simPatient('179016912345677');
        expect(paul.contact.phones).toHaveLength(2);
        expect(paul.contact.phones).toEqual(
          expect.arrayContaining([
            { number: '+33145678901', use: 'home' },
            { number: '+33698765432', use: 'mobile' },
          ]),
        );
        expect(paul.contact.address).toMatchObject({ lines: ['3 place du Simulacre'], city: 'Essaiville' });
        // A28 of a patient already known: the same record, updated.
        expect(await onSim('Patient', 'IPP000303')).toBe(lucie);
        expect((await simPatient('IPP000303')).contact.phones).toEqual([
          { number: '+33478123456', use: 'home' },
        ]);
        expect(sim.state.list('patient').filter((p) => p.identity.family === 'ESSAI')).toHaveLength(1);
        await noDeadLetters();
      });

      it('merges on ADT A40: the duplicate’s IPP points at the survivor, and its appointments follow, here and at the secretariat', async () => {
        const before = practiceSoftware.received.length;
        // A duplicate of Jeanne, with a typo in her name, and a future appointment booked on it.
        let dup = hl7Fixture('adt-a28-create');
        dup = withField(
          withField(
            withField(withField(dup, 'PID', 3, IPP('IPP000199')), 'PID', 5, 'FICTIF^Jeanne^^^^^L'),
            'PID',
            7,
            '19850314',
          ),
          'PID',
          8,
          'F',
        );
        await apply(withField(dup, 'PID', 13, ''), 'a28-duplicate');
        const onDuplicate = (apt: string, start: string, end: string, controlId: string) => {
          let m = withField(
            withField(hl7Fixture('siu-s12-new-appointment'), 'SCH', 2, `${apt}^LOGICIEL-CABINET`),
            'SCH',
            11,
            `^^M20^${start}^${end}`,
          );
          m = withField(
            withField(
              withField(withField(withField(m, 'TQ1', 7, start), 'TQ1', 8, end), 'PID', 3, IPP('IPP000199')),
              'PID',
              5,
              'FICTIF^Jeanne^^^^^L',
            ),
            'PID',
            32,
            'PROV',
          );
          return original(withField(m, 'PID', 13, ''), controlId);
        };
        expect(
          (
            await send(
              onDuplicate('RDV000199', '20300115090000+0100', '20300115092000+0100', nextId('s12-dup')),
            )
          ).code,
        ).toBe('AA');
        await settled();
        const duplicate = await canonicalOf('Patient', 'IPP000199');
        const survivor = (await canonicalOf('Patient', 'IPP000101')) as string;
        expect(duplicate).not.toBe(survivor);
        expect((await simAppointment('RDV000199'))?.patientId).toBe(await onSim('Patient', 'IPP000199'));

        const merge = await send(original(hl7Fixture('adt-a40-merge'), nextId('a40')));
        expect(merge.code).toBe('AA');
        await settled();
        expect(await canonicalOf('Patient', 'IPP000199')).toBe(survivor);
        const apt = (await canonicalOf('Appointment', 'RDV000199')) as string;
        expect(
          ((await store().resources.get(apt))?.data as unknown as Appointment).participant.map(
            (p) => p.actor?.reference,
          ),
        ).toContain(`Patient/${survivor}`);
        expect((await store().resources.get(duplicate as string))?.data).toMatchObject({
          active: false,
          link: [{ other: { reference: `Patient/${survivor}` }, type: 'replaced-by' }],
        });
        const jeanneOnSim = (await store().identityMap.findExternal(secLinkId, 'Patient', survivor))[0];
        expect((await simAppointment('RDV000199'))?.patientId).toBe(jeanneOnSim);

        // A later booking the practice software still sends under the duplicate's IPP: the survivor.
        expect(
          (
            await send(
              onDuplicate(
                'RDV000200',
                '20300116090000+0100',
                '20300116092000+0100',
                nextId('s12-after-merge'),
              ),
            )
          ).code,
        ).toBe('AA');
        await settled();
        const later = (await store().resources.get((await canonicalOf('Appointment', 'RDV000200')) as string))
          ?.data as unknown as Appointment;
        expect(later.participant.map((p) => p.actor?.reference)).toContain(`Patient/${survivor}`);
        expect((await simAppointment('RDV000200'))?.patientId).toBe(jeanneOnSim);
        // … and the stale identity it carries does not overwrite the survivor's.
        expect((sim.state.get('patient', jeanneOnSim as string) as SimPatient).identity).toMatchObject({
          family: 'FICTIVE',
          reliability: 'VALI',
        });
        expect(((await store().resources.get(survivor))?.data as unknown as Patient).name?.[0]?.family).toBe(
          'FICTIVE',
        );
        // The practice software merged its own records: nothing about them is sent back to it.
        expect(received(before).map((m) => m.header.messageType)).toEqual([]);
        await noDeadLetters();
      });

      it('sends nothing back to the practice software for what it sent itself', () => {
        expect(practiceSoftware.received.map((m) => m.messageType)).toEqual([]);
      });
    });

    describe('what the secretariat does', () => {
      let practitioner: string;
      let jeanne: string;
      let booking: string;
      const agent = () => sim.agent('agent-amelie');
      const lastOf = async (type: string, from: number) =>
        (await until(`${type} at the practice software`, () =>
          received(from)
            .filter((m) => m.header.messageType === type)
            .pop(),
        )) as Hl7Message;

      beforeAll(() => {
        practitioner = sim.state.list('practitioner').find((p) => p.rpps === '19999900012')?.id as string;
        jeanne = sim.state.list('patient').find((p) => p.identity.family === 'FICTIVE')?.id as string;
      });

      it('sends an agent’s booking as SIU^S12 with the patient (INS with a qualified identity), practitioner, type, start and duration', async () => {
        const from = practiceSoftware.received.length;
        const apt = await agent().book({
          practitionerId: practitioner,
          patientId: jeanne,
          start: '2030-02-01T09:00:00.000Z',
          end: '2030-02-01T09:20:00.000Z',
          appointmentTypeId: 'CONS-SUIVI',
          note: 'Pris au téléphone.',
        });
        booking = apt.id;
        const m = await lastOf('SIU^S12', from);
        const canonical = (await store().identityMap.findCanonical(
          secLinkId,
          'Appointment',
          apt.id,
        )) as string;
        // passerelle's id as the placer id; the practice software has given no filler id yet.
        expect([m.get('SCH-1'), m.get('SCH-2')]).toEqual([canonical, undefined]);
        expect([
          m.get('SCH-11.4'),
          m.get('SCH-11.5'),
          m.get('TQ1-7'),
          m.get('SCH-9'),
          m.get('SCH-10'),
          m.get('SCH-25'),
        ]).toEqual([
          '20300201100000+0100',
          '20300201102000+0100',
          '20300201100000+0100',
          '20',
          'min',
          'Booked',
        ]);
        expect([m.get('AIS-3.1'), m.get('AIS-3.2'), m.get('NTE-3'), m.get('SCH-20')]).toEqual([
          'CONS-SUIVI',
          undefined,
          'Pris au téléphone.',
          'agent-amelie',
        ]);
        expect([
          m.get('AIP-3.1'),
          m.get('AIP-3.2'),
          m.get('AIP-3.3'),
          m.get('AIP-3.9.2'),
          m.get('AIP-3.13'),
        ]).toEqual(['819999900012', 'DOCTEUR-FICTIF', 'Alice', '1.2.250.1.71.4.2.1', 'IDNPS']);
        expect(m.getAll('PID-3[*].1')).toEqual(['IPP000101', '285037511234544']);
        expect(m.getAll('PID-3[*].4.2')).toEqual(['1.2.250.1.999.1.1', '1.2.250.1.213.1.4.10']);
        expect([
          m.get('PID-32'),
          m.get('PID-5[1].1'),
          m.get('PID-5[1].7'),
          m.get('PID-5[2].1'),
          m.get('PID-5[2].7'),
        ]).toEqual(['VALI', 'FICTIVE', 'L', 'IMAGINAIRE', 'D']);
        expect(m.header.controlId).toMatch(/^P[0-9A-F]{19}$/);
        await settled();
        await noDeadLetters();
      });

      it('writes no INS for a patient whose identity is not qualified', async () => {
        const from = practiceSoftware.received.length;
        const lucie = (await onSim('Patient', 'IPP000303')) as string;
        await agent().book({
          practitionerId: practitioner,
          patientId: lucie,
          start: '2030-02-02T09:00:00.000Z',
          end: '2030-02-02T09:15:00.000Z',
          appointmentTypeId: 'CONS',
        });
        const m = await lastOf('SIU^S12', from);
        expect([m.getAll('PID-3[*].1'), m.getAll('PID-3[*].5'), m.get('PID-32')]).toEqual([
          ['IPP000303'],
          ['PI'],
          'PROV',
        ]);
        await settled();
      });

      it('takes the filler id the practice software gives an agent’s booking, without booking it twice, and follows it afterwards', async () => {
        const from = practiceSoftware.received.length;
        const apt = await agent().book({
          practitionerId: practitioner,
          patientId: jeanne,
          start: '2030-02-03T09:00:00.000Z',
          end: '2030-02-03T09:20:00.000Z',
          appointmentTypeId: 'CONS-SUIVI',
        });
        const s12 = await lastOf('SIU^S12', from);
        const canonical = (await store().identityMap.findCanonical(
          secLinkId,
          'Appointment',
          apt.id,
        )) as string;
        await settled();
        const appointmentsBefore = sim.state.list('appointment').length;
        const raw = practiceSoftware.received.filter(
          (r) => parseHl7(r.raw).header.controlId === s12.header.controlId,
        )[0]?.raw as Buffer;
        // The practice software files the booking in its agenda and answers with its own id
        // (SCH-2, filler) beside passerelle's (SCH-1, placer), as IHE SWF does.
        let filed = withField(
          withField(
            withField(raw, 'MSH', 3, 'LOGICIEL-CABINET'),
            'MSH',
            4,
            'CABINET-TEST^1.2.250.1.999.1^ISO',
          ),
          'MSH',
          5,
          'PASSERELLE',
        );
        filed = withField(
          withField(withField(filed, 'MSH', 9, 'SIU^S14^SIU_S12'), 'MSH', 10, nextId('filed')),
          'SCH',
          2,
          'RDV-CONF-1^LOGICIEL-CABINET',
        );
        expect((await send(filed)).code).toBe('AA');
        await settled();
        expect(sim.state.list('appointment')).toHaveLength(appointmentsBefore);
        expect(await canonicalOf('Appointment', 'RDV-CONF-1')).toBe(canonical);
        // Later messages carry the filler id only.
        let moved = withField(withField(filed, 'MSH', 9, 'SIU^S13^SIU_S12'), 'MSH', 10, nextId('filed-move'));
        moved = withField(
          withField(
            withField(
              withField(moved, 'SCH', 1, ''),
              'SCH',
              11,
              '^^M20^20300203140000+0100^20300203142000+0100',
            ),
            'TQ1',
            7,
            '20300203140000+0100',
          ),
          'TQ1',
          8,
          '20300203142000+0100',
        );
        expect((await send(moved)).code).toBe('AA');
        await settled();
        expect(sim.state.list('appointment')).toHaveLength(appointmentsBefore);
        expect(sim.state.get('appointment', apt.id)).toMatchObject({
          status: 'booked',
          start: '2030-02-03T13:00:00.000Z',
          end: '2030-02-03T13:20:00.000Z',
        });
        await noDeadLetters();
      });

      it('sends a move as SIU^S13 and a cancellation as SIU^S15, under the same placer id', async () => {
        let from = practiceSoftware.received.length;
        await agent().move(booking, { start: '2030-02-01T13:00:00.000Z', end: '2030-02-01T13:20:00.000Z' });
        const moved = await lastOf('SIU^S13', from);
        const canonical = await store().identityMap.findCanonical(secLinkId, 'Appointment', booking);
        expect([moved.get('SCH-1'), moved.get('SCH-2'), moved.get('SCH-11.4'), moved.get('SCH-25')]).toEqual([
          canonical,
          undefined,
          '20300201140000+0100',
          'Booked',
        ]);
        await settled();
        from = practiceSoftware.received.length;
        await agent().cancel(booking, 'Patiente empêchée');
        const cancelled = await lastOf('SIU^S15', from);
        expect([cancelled.get('SCH-1'), cancelled.get('SCH-25')]).toEqual([canonical, 'Cancelled']);
        await settled();
        await noDeadLetters();
      });

      it('sends an urgent call message as MDM^T02 with its priority and text', async () => {
        const from = practiceSoftware.received.length;
        const message = await agent().leaveMessage({
          callerName: 'Jeanne FICTIVE',
          text: 'Douleur thoracique depuis ce matin, rappeler au plus vite.',
          priority: 'urgent',
          patientId: jeanne,
          practitionerId: practitioner,
        });
        const m = await lastOf('MDM^T02', from);
        const canonical = await store().identityMap.findCanonical(secLinkId, 'Communication', message.id);
        expect([
          m.get('TXA-12'),
          m.get('TXA-5.1'),
          m.get('PID-3.1'),
          m.get('OBX[1]-3'),
          m.get('OBX[1]-5'),
          m.get('OBX[2]-5'),
        ]).toEqual([
          canonical,
          '819999900012',
          'IPP000101',
          'PRIORITE',
          'URGENT',
          'Douleur thoracique depuis ce matin, rappeler au plus vite.',
        ]);
        await settled();
        await noDeadLetters();
      });

      it('writes a call message to the practice software once, though the platform then marks it delivered', async () => {
        const from = practiceSoftware.received.length;
        const message = await agent().leaveMessage({
          callerName: 'Jeanne FICTIVE',
          text: 'Rappeler pour le résultat de la prise de sang.',
          priority: 'routine',
          patientId: jeanne,
          practitionerId: practitioner,
        });
        await lastOf('MDM^T02', from);
        await until(
          'the platform to mark the message delivered',
          () => sim.state.get('message', message.id)?.status === 'delivered',
        );
        await settled();
        const canonical = await store().identityMap.findCanonical(secLinkId, 'Communication', message.id);
        expect(received(from).filter((m) => m.get('TXA-12') === canonical)).toHaveLength(1);
        await noDeadLetters();
      });

      it('sends a patient proposal as ADT^A28 and a contact change as ADT^A31', async () => {
        let from = practiceSoftware.received.length;
        const proposed = await agent().proposePatient({
          identity: {
            family: 'DEMONSTRATION',
            given: ['Paula'],
            usedFamily: null,
            birthDate: '1990-06-15',
            sex: 'female',
          },
          ins: null,
          contact: { phones: [{ number: '+33611223344', use: 'mobile' }], email: null, address: null },
        });
        const a28 = await lastOf('ADT^A28', from);
        const canonical = (await store().identityMap.findCanonical(
          secLinkId,
          'Patient',
          proposed.id,
        )) as string;
        // No IPP yet: passerelle's id under passerelle's assigning authority.
        expect([
          a28.get('PID-3.1'),
          a28.get('PID-3.4.2'),
          a28.get('PID-5.1'),
          a28.get('PID-7'),
          a28.get('PID-8'),
          a28.get('PID-32'),
        ]).toEqual([canonical, '1.2.250.1.999.9.1', 'DEMONSTRATION', '19900615', 'F', 'PROV']);
        await settled();

        from = practiceSoftware.received.length;
        const current = sim.state.get('patient', jeanne) as SimPatient;
        const res = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/patients/${jeanne}`, {
          method: 'PUT',
          headers: {
            authorization: `Bearer ${sim.apiToken}`,
            'x-agent-id': 'agent-amelie',
            'content-type': 'application/json',
            'if-match': `"${current.version}"`,
            'idempotency-key': nextId('contact'),
          },
          body: JSON.stringify({
            identity: current.identity,
            ins: current.ins,
            contact: { ...current.contact, email: 'jeanne.nouvelle@example.org' },
          }),
        });
        expect(res.status).toBe(200);
        const a31 = await lastOf('ADT^A31', from);
        expect([a31.get('PID-3[1].1'), a31.get('PID-13[2].4'), a31.get('PID-13[2].3')]).toEqual([
          'IPP000101',
          'jeanne.nouvelle@example.org',
          'Internet',
        ]);
        const stored = (await store().resources.get((await canonicalOf('Patient', 'IPP000101')) as string))
          ?.data as unknown as Patient;
        expect(stored.telecom?.find((x) => x.system === 'email')?.value).toBe('jeanne.nouvelle@example.org');
        await settled();
        await noDeadLetters();
      });

      it('sends an urgent call message as ORU^R01 with its priority once the link runs the generic profile', async () => {
        const put = await t.api(`/api/v1/links/${hl7LinkId}/mapping`, {
          method: 'PUT',
          key: integrator,
          headers: { 'content-type': 'application/yaml' },
          body: shippedProfileText('hl7v2-generic-2.5'),
        });
        expect(put.status).toBe(200);
        const from = practiceSoftware.received.length;
        await until('the generic profile running', async () => {
          const m = await agent().leaveMessage({
            callerName: 'Paul DEMONSTRATION',
            text: `Demande d'ordonnance ${++seq}.`,
            priority: 'urgent',
          });
          const got = await until(
            'a call message at the practice software',
            () => received(from).find((x) => x.get('OBX-5') === m.text || x.get('OBX[2]-5') === m.text),
            10_000,
          );
          return got.header.messageType === 'ORU^R01' ? got : undefined;
        });
        const oru = received(from)
          .filter((m) => m.header.messageType === 'ORU^R01')
          .pop() as Hl7Message;
        expect([
          oru.get('OBR-5'),
          oru.get('OBR-4.1'),
          oru.get('OBX-3'),
          oru.get('OBX-5')?.startsWith("Demande d'ordonnance"),
        ]).toEqual(['U', 'CALLMSG', 'CALLMSG', true]);
        await settled();
        await noDeadLetters();
      });
    });
  },
);

describe('the INS test OID on a link that is not a test link', () => {
  it('is refused with AE and dead-lettered; the same message is applied on a test link', async () => {
    const mapping = mappingModule({ refreshMs: 0 });
    const sync = syncModule({
      registry: defaultConnectorRegistry(),
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      runtime: { refreshMs: 0 },
    });
    const t = await startTestService({ modules: [mapping, sync] });
    try {
      const integrator = (
        await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
      ).key;
      const practiceId = (
        (await (
          await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet réel' } })
        ).json()) as { id: string }
      ).id;
      const create = async (isTest: boolean) =>
        (
          (await (
            await t.api('/api/v1/links', {
              method: 'POST',
              key: integrator,
              json: {
                practiceId,
                role: 'practice',
                connector: 'hl7v2',
                name: `Logiciel ${isTest}`,
                isTest,
                config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
              },
            })
          ).json()) as { id: string }
        ).id;
      const real = await create(false);
      const test = await create(true);
      const runtime = sync.runtimeOf(t.service.context);
      await runtime.refresh();
      const a04 = original(hl7Fixture('adt-a04-registration-crlf'), 'INS-TEST-1');
      const answer = async (linkId: string) => {
        const s = await RawMllpSocket.connect((runtime.connectorOf(linkId) as Hl7v2Link).mllpPort as number);
        try {
          return parseAck(await s.request(a04));
        } finally {
          s.destroy();
        }
      };
      const refused = await answer(real);
      expect([refused.code, refused.message.get('ERR-3.1'), refused.message.get('ERR-8')]).toEqual([
        'AE',
        '102',
        expect.stringMatching(/test and demo INS .*only on a link marked as test|test/i),
      ]);
      expect(refused.message.text).not.toContain('285037511234544');
      const dead = await t.service.store.deadLetters.list({ status: 'open', linkId: real, limit: 5 });
      expect(dead.map((d) => [d.source, d.reasonCode])).toEqual([['inbox', 'ERR_MODEL_INVALID']]);
      expect(await t.service.store.identityMap.findCanonical(real, 'Patient', 'IPP000101')).toBeUndefined();

      const accepted = await answer(test);
      expect(accepted.code).toBe('AA');
      expect(await t.service.store.identityMap.findCanonical(test, 'Patient', 'IPP000101')).toBeDefined();
    } finally {
      await t.dispose();
    }
  });
});
