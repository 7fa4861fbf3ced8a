/**
 * The conformance suite (conformance.ts) run for the shipped connectors whose simulators support
 * it, and for a test-only connector (fixtures/notes/): adding a protocol is one folder and the
 * one registry line below.
 */
import type { Appointment as FhirAppointment, Bundle } from '@medplum/fhirtypes';

import {
  demoPractice,
  generatePatients,
  startFaultProxy,
  startFhirPeer,
} from '../../connectors/fhir/peer/index.js';
import type { Hl7v2Link } from '../../connectors/hl7v2/index.js';
import { Hl7Simulator } from '../../connectors/hl7v2/simulator/index.js';
import { startSecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { type AnyConnectorDefinition, createRegistry } from '../../src/connector/registry.js';
import { parseHl7 } from '../../src/hl7/index.js';
import { shippedPlan, toCanonical } from '../../src/mapping/index.js';
import { EXT } from '../../src/model/identifiers.js';
import type { Appointment, Patient, Slot } from '../../src/model/resources.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { hl7Fixture } from '../helpers/hl7.js';
import { type ChangeSpec, describeConformance } from './conformance.js';
import notes from './fixtures/notes/index.js';
import { startNotesPeer } from './fixtures/notes/simulator.js';

const registry = createRegistry([
  ...defaultConnectorDefinitions(),
  notes as AnyConnectorDefinition, // the one line a new protocol adds
]);

describeConformance(registry.get('notes'), {
  covers: { paging: true, 'idempotent-push': true, cancel: true, 'error-classes': true, restart: true },
  why: { receive: 'the notes peer pushes nothing' },
  async start() {
    const peer = await startNotesPeer();
    let n = 0;
    const note = (text: string) => ({
      kind: 'Communication' as const,
      data: {
        resourceType: 'Communication' as const,
        id: `n-${(n += 1)}`,
        status: 'completed' as const,
        priority: 'routine' as const,
        payload: [{ contentString: text }],
      },
    });
    return {
      config: { baseUrl: peer.url },
      secrets: null,
      seed: async (count) => Array.from({ length: count }, (_, i) => peer.write(`note ${i}`)),
      creation: (i) => note(`from passerelle ${i}`),
      count: async () => peer.notes().length,
      async removal() {
        const id = peer.write('to be removed');
        return {
          change: { ...note('to be removed'), op: 'cancel', externalId: id },
          removed: async () => peer.notes().find((x) => x.id === id)?.deleted === true,
        };
      },
      failNextTransiently: () => peer.failNext(),
      refusedChange: () => note(''),
      close: () => peer.close(),
    };
  },
});

const [JEANNE] = fixturePatients() as [Patient];

describeConformance(registry.get('secretariat'), {
  covers: { paging: true, 'idempotent-push': true, cancel: true, 'error-classes': true, restart: true },
  why: {
    receive:
      "webhooks arrive over passerelle's HTTP server (receiveHttp, signed): test/connectors/secretariat/webhooks.test.ts",
  },
  pageSize: 5,
  async start() {
    const sim = await startSecretariatSimulator({ seed: 'demo' });
    const agent = sim.agent('agent-amelie');
    return {
      // One attempt per request: the suite checks how a failure is classified, not the client's retries.
      config: {
        baseUrl: sim.url,
        platformPracticeId: sim.practiceId,
        timeoutMs: 5000,
        retry: { maxAttempts: 1 },
      },
      secrets: { apiToken: sim.apiToken },
      seed: async (count) => {
        const ids: string[] = [];
        for (let i = 0; i < count; i += 1)
          ids.push(
            (await agent.leaveMessage({ callerName: `Appelant ${i}`, text: `Rappeler le cabinet (${i})` }))
              .id,
          );
        return ids;
      },
      creation: (i) => ({
        kind: 'Patient',
        data: {
          ...JEANNE,
          id: `conformance-${i}`,
          name: [{ use: 'official', family: `CONFORMITE${'X'.repeat(i)}`, given: ['Jeanne'] }],
        },
      }),
      count: async () => sim.state.list('patient').length,
      async removal() {
        const s = sim.state.list('slot').find((x) => x.status === 'free');
        if (!s) throw new Error('no free slot in the demo seed');
        const data: Slot = {
          resourceType: 'Slot',
          id: `canon-${s.id}`,
          schedule: { reference: `Schedule/${s.scheduleId}` },
          status: 'free',
          start: s.start,
          end: s.end,
        };
        return {
          change: { op: 'delete', kind: 'Slot', data, externalId: s.id, expectedVersion: String(s.version) },
          removed: async () => sim.state.get('slot', s.id) === undefined,
        };
      },
      failNextTransiently: () => sim.setFaults({ script: [{ status: 503 }] }),
      // The platform's contract has no place for a message written by the practice.
      refusedChange: () => ({
        kind: 'Communication',
        data: {
          resourceType: 'Communication',
          id: 'x',
          status: 'completed',
          priority: 'routine',
          payload: [{ contentString: 'Bonjour' }],
        },
      }),
      close: () => sim.close(),
    };
  },
});

/** A booking on the demo practice's first slot, references in the peer's ids. */
const booking = (id: string, extra: Partial<Appointment> = {}): Appointment => ({
  resourceType: 'Appointment',
  id,
  status: 'booked',
  start: '2030-03-11T09:20:00.000Z',
  end: '2030-03-11T09:40:00.000Z',
  slot: [{ reference: 'Slot/slot-1-0-3' }],
  extension: [{ url: EXT.appointmentOperator, valueReference: { display: 'agent-amelie' } }],
  participant: [
    { actor: { reference: 'Practitioner/prat-medecin-1' }, status: 'accepted' },
    { actor: { reference: 'Patient/pat-000003' }, status: 'accepted' },
  ],
  ...extra,
});

describeConformance(registry.get('fhir'), {
  covers: { paging: true, 'idempotent-push': true, cancel: true, 'error-classes': true, restart: true },
  why: {
    receive: 'a Subscription notification carries no records, only a poll hint (fhir-connector.test.ts)',
  },
  async start() {
    const peer = await startFhirPeer();
    const proxy = await startFaultProxy({ target: peer.url });
    await peer.seed(demoPractice(new Date('2030-03-11T00:00:00Z')));
    let next = 20_000;
    const get = async <T>(path: string): Promise<T> =>
      (await (await fetch(`${peer.url}/${path}`)).json()) as T;
    return {
      // Pages of 2 Patients: `limit` is the engine's; the FHIR page size is the link's config.
      config: {
        baseUrl: proxy.url,
        kinds: ['Patient'],
        pageSize: 2,
        timeoutMs: 5000,
        retry: { max: 0, baseDelayMs: 10, maxDelayMs: 100 },
      },
      secrets: null,
      async seed(count) {
        const patients = generatePatients(count, (next += 100));
        await peer.seed(patients);
        return patients.map((p) => p.id as string);
      },
      creation: (i) => ({
        kind: 'Appointment',
        data: booking(`c0ffee00-0000-4000-8000-00000000c0${String(i).padStart(2, '0')}`),
      }),
      count: async (kind) => (await get<Bundle>(`${kind}?_count=1`)).total ?? 0,
      async removal() {
        const current = await get<FhirAppointment>('Appointment/rdv-1');
        return {
          change: {
            op: 'cancel',
            kind: 'Appointment',
            data: booking('rdv-1', { status: 'cancelled' }),
            externalId: 'rdv-1',
            expectedVersion: current.meta?.versionId ?? null,
          },
          removed: async () => (await get<FhirAppointment>('Appointment/rdv-1')).status === 'cancelled',
        };
      },
      // The write itself fails (the CapabilityStatement read before it is cached apart).
      failNextTransiently: () => proxy.plan([{ kind: 'status', status: 503, method: 'PUT' }]),
      // The shipped profile does not write practitioners to the practice software.
      refusedChange: () => ({
        kind: 'Practitioner',
        data: { resourceType: 'Practitioner', id: 'p1', name: [{ family: 'X' }] },
      }),
      async close() {
        await proxy.close();
        await peer.close();
      },
    };
  },
});

/**
 * An appointment of the SIU^S12 fixture as the dispatcher hands it over: canonical data, its
 * patient and practitioner as related records (PID, AIP-3), `n` making each one new.
 */
function hl7Booking(n: number, op: ChangeSpec['op'] = 'upsert'): ChangeSpec {
  const r = toCanonical(shippedPlan('hl7v2-ihe-pam-fr'), parseHl7(hl7Fixture('siu-s12-new-appointment')), {
    timezone: 'Europe/Paris',
    testLink: true,
    validate: false,
  });
  const primary = r.records.find((x) => x.kind === 'Appointment');
  if (!primary) throw new Error('the SIU^S12 fixture maps to no appointment');
  const canonicalId = `c-booking-${n}`;
  return {
    op,
    kind: 'Appointment',
    canonicalId,
    externalId: op === 'upsert' ? null : canonicalId,
    data: { ...primary.data, id: canonicalId },
    related: r.records
      .filter((x) => x !== primary && x.kind !== 'Appointment')
      .map((x) => ({
        kind: x.kind,
        canonicalId: `c-${x.kind}-${x.externalId}`,
        externalId: x.externalId,
        data: x.data,
      })),
  };
}

// HL7 v2 practice software pushes to passerelle (MLLP listener, drop folder): there is no feed
// to page through or resume, and a write is a message, not an idempotent request.
describeConformance(registry.get('hl7v2'), {
  covers: { cancel: true, 'error-classes': true, receive: true },
  why: {
    paging: 'HL7 v2 has no pull: the practice software pushes its messages to the MLLP listener',
    restart:
      'no cursor: a restarted listener takes the messages resent by the peer, deduplicated by the inbox (hl7-kill.test.ts)',
    'idempotent-push':
      'HL7 v2 has no idempotent write: a retried change carries the same MSH-10 (outboundControlId, hl7-mllp-sender.test.ts), the peer dedupes it',
  },
  async start() {
    const sim = await Hl7Simulator.start();
    let cancelled: string | undefined;
    return {
      config: {
        mllp: {
          listen: { host: '127.0.0.1', port: 0 },
          send: { host: '127.0.0.1', port: sim.port, ackTimeoutMs: 300, connectTimeoutMs: 1000 },
        },
      },
      secrets: null,
      seed: async () => [],
      creation: (i) => hl7Booking(i),
      count: async () =>
        sim.received.filter((m) => m.messageType === 'SIU^S12' && m.answered === 'AA').length,
      async removal() {
        const change = hl7Booking(99, 'cancel');
        cancelled = change.canonicalId;
        return {
          change,
          removed: async () =>
            sim.received.some(
              (m) =>
                m.messageType === 'SIU^S15' &&
                m.answered === 'AA' &&
                parseHl7(m.raw).get('SCH-1') === cancelled,
            ),
        };
      },
      // An unanswered message: the ACK times out, worth a retry with the same MSH-10.
      failNextTransiently: () => void (sim.faults.dropAcks = 1),
      // The IHE PAM profile has no message deleting a patient (ERR_MAPPING_NO_OUTBOUND).
      refusedChange: () => {
        const patient = hl7Booking(98).related?.find((x) => x.kind === 'Patient');
        if (!patient) throw new Error('the SIU^S12 fixture has no patient');
        return {
          op: 'delete',
          kind: 'Patient',
          canonicalId: patient.canonicalId,
          externalId: patient.externalId,
          data: patient.data,
        };
      },
      // The practice software sends an SIU^S12 to the link's listener (inbound: the HL7 direction).
      async deliver(connector) {
        const port = (connector as Hl7v2Link).mllpPort;
        if (port === undefined) throw new Error('the hl7v2 link is not listening');
        const [sent] = await sim.send({ host: '127.0.0.1', port }, [hl7Fixture('siu-s12-new-appointment')]);
        return { accepted: sent?.result === 'AA' || sent?.result === 'CA' };
      },
      close: () => sim.close(),
    };
  },
});
