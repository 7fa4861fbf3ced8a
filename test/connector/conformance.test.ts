/**
 * The conformance suite (conformance.ts) run for the shipped connectors whose simulators support
 * it, and for a test-only connector (fixtures/notes/): adding a protocol is one folder and the
 * one registry line below.
 */
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { type AnyConnectorDefinition, createRegistry } from '../../src/connector/registry.js';
import type { Patient, Slot } from '../../src/model/resources.js';
import { startSecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { describeConformance } from './conformance.js';
import notes from './fixtures/notes/index.js';
import { startNotesPeer } from './fixtures/notes/simulator.js';

const registry = createRegistry([
  ...defaultConnectorDefinitions(),
  notes as AnyConnectorDefinition, // the one line a new protocol adds
]);

describeConformance(registry.get('notes'), {
  covers: { paging: true, 'idempotent-push': true, cancel: true, 'error-classes': true, restart: true },
  async start() {
    const peer = await startNotesPeer();
    let n = 0;
    const note = (text: string) => ({ kind: 'Communication' as const, data: { resourceType: 'Communication' as const, id: `n-${(n += 1)}`, status: 'completed' as const, priority: 'routine' as const, payload: [{ contentString: text }] } });
    return {
      config: { baseUrl: peer.url },
      secrets: null,
      seed: async (count) => Array.from({ length: count }, (_, i) => peer.write(`note ${i}`)),
      creation: (i) => note(`from passerelle ${i}`),
      count: async () => peer.notes().length,
      async removal() {
        const id = peer.write('to be removed');
        return { change: { ...note('to be removed'), op: 'cancel', externalId: id }, removed: async () => peer.notes().find((x) => x.id === id)?.deleted === true };
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
  pageSize: 5,
  async start() {
    const sim = await startSecretariatSimulator({ seed: 'demo' });
    const agent = sim.agent('agent-amelie');
    return {
      // One attempt per request: the suite checks how a failure is classified, not the client's retries.
      config: { baseUrl: sim.url, platformPracticeId: sim.practiceId, timeoutMs: 5000, retry: { maxAttempts: 1 } },
      secrets: { apiToken: sim.apiToken },
      seed: async (count) => {
        const ids: string[] = [];
        for (let i = 0; i < count; i += 1) ids.push((await agent.leaveMessage({ callerName: `Appelant ${i}`, text: `Rappeler le cabinet (${i})` })).id);
        return ids;
      },
      creation: (i) => ({ kind: 'Patient', data: { ...JEANNE, id: `conformance-${i}`, name: [{ use: 'official', family: `CONFORMITE${'X'.repeat(i)}`, given: ['Jeanne'] }] } }),
      count: async () => sim.state.list('patient').length,
      async removal() {
        const s = sim.state.list('slot').find((x) => x.status === 'free');
        if (!s) throw new Error('no free slot in the demo seed');
        const data: Slot = { resourceType: 'Slot', id: `canon-${s.id}`, schedule: { reference: `Schedule/${s.scheduleId}` }, status: 'free', start: s.start, end: s.end };
        return { change: { op: 'delete', kind: 'Slot', data, externalId: s.id, expectedVersion: String(s.version) }, removed: async () => sim.state.get('slot', s.id) === undefined };
      },
      failNextTransiently: () => sim.setFaults({ script: [{ status: 503 }] }),
      // The platform's contract has no place for a message written by the practice.
      refusedChange: () => ({ kind: 'Communication', data: { resourceType: 'Communication', id: 'x', status: 'completed', priority: 'routine', payload: [{ contentString: 'Bonjour' }] } }),
      close: () => sim.close(),
    };
  },
});
