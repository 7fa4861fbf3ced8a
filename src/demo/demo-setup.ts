/**
 * Connects the demo practices through passerelle's own admin API, idempotently: a practice or
 * link that exists is kept (its peers' addresses and credentials refreshed), never created twice.
 */
import type { Link } from '../store/types.js';
import { DEMO_APPOINTMENT_TYPES, DEMO_PRACTICES, DEMO_ZONE, type DemoPracticeKey } from './demo-data.js';
import type { DemoPorts, DemoState, DemoWorld } from './demo-world.js';

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  /** The answer's status and JSON body (undefined when empty). */
  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async expect<T>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const r = await this.call<T>(method, path, body, headers);
    if (r.status !== status)
      throw new Error(`demo setup: ${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

export const linkIds = (key: DemoPracticeKey) => ({
  secretariat: `${DEMO_PRACTICES[key].id}-secretariat`,
  practice: `${DEMO_PRACTICES[key].id}-logiciel`,
});

interface LinkSpec {
  readonly id: string;
  readonly practiceId: string;
  readonly role: 'practice' | 'secretariat';
  readonly connector: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly secrets?: Record<string, unknown>;
  readonly schedule?: string;
}

async function ensureLink(api: AdminClient, spec: LinkSpec): Promise<void> {
  const current = await api.call<Link>('GET', `/api/v1/links/${spec.id}`);
  // Demo links carry the INS test OID: they are test links.
  const fields = {
    config: spec.config,
    ...(spec.secrets && { secrets: spec.secrets }),
    schedule: spec.schedule ?? null,
    isTest: true,
    enabled: true,
  };
  if (current.status === 404) {
    await api.expect(201, 'POST', '/api/v1/links', {
      id: spec.id,
      practiceId: spec.practiceId,
      role: spec.role,
      connector: spec.connector,
      name: spec.name,
      ...fields,
    });
  } else if (current.status === 200) {
    // The peers may listen elsewhere than last time (other ports): point the link at them.
    await api.expect(200, 'PATCH', `/api/v1/links/${spec.id}`, fields, {
      'if-match': `"${current.body.version}"`,
    });
  } else {
    throw new Error(`demo setup: GET link ${spec.id} answered ${current.status}`);
  }
}

/** Creates (first run) or refreshes (later runs) both demo practices and their four links. */
export async function setUpDemoPractices(
  api: AdminClient,
  world: DemoWorld,
  state: DemoState,
  ports: DemoPorts,
): Promise<void> {
  for (const key of ['fhir', 'hl7'] as const) {
    const p = DEMO_PRACTICES[key];
    const existing = await api.call('GET', `/api/v1/practices/${p.id}`);
    if (existing.status === 404)
      await api.expect(201, 'POST', '/api/v1/practices', { id: p.id, name: p.name, timezone: DEMO_ZONE });
    const sim = world.secretariat[key];
    await ensureLink(api, {
      id: linkIds(key).secretariat,
      practiceId: p.id,
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Télésecrétariat (simulateur)',
      config: {
        baseUrl: sim.url,
        platformPracticeId: sim.practiceId,
        timeoutMs: 5000,
        appointmentTypes: DEMO_APPOINTMENT_TYPES,
      },
      secrets: { apiToken: sim.apiToken, webhookSecret: state.webhookSecrets[key] },
    });
  }
  const practiceLink = (
    key: DemoPracticeKey,
    connector: string,
    name: string,
    config: Record<string, unknown>,
    schedule?: string,
  ): LinkSpec => ({
    id: linkIds(key).practice,
    practiceId: DEMO_PRACTICES[key].id,
    role: 'practice',
    connector,
    name,
    config,
    ...(schedule !== undefined && { schedule }),
  });
  // No FHIR Subscription in the demo: a poll every 5 seconds keeps it lively.
  await ensureLink(
    api,
    practiceLink(
      'fhir',
      'fhir',
      'Logiciel du cabinet (FHIR R4)',
      { baseUrl: world.fhirPeer.url, timeoutMs: 5000, pageSize: 200 },
      '*/5 * * * * *',
    ),
  );
  await ensureLink(
    api,
    practiceLink('hl7', 'hl7v2', 'Logiciel de la maison de santé (HL7 v2 MLLP)', {
      mllp: {
        listen: { host: '127.0.0.1', port: ports.mllpListener },
        send: { host: '127.0.0.1', port: world.hl7.port, ackTimeoutMs: 5000, connectTimeoutMs: 2000 },
      },
    }),
  );
  for (const key of ['fhir', 'hl7'] as const) {
    world.secretariat[key].setWebhook({
      url: `${api.baseUrl}/hooks/secretariat/${linkIds(key).secretariat}`,
      secrets: [state.webhookSecrets[key]],
    });
  }
}
