/**
 * What the cluster tests share (test/cluster/): the admin API of one instance, `/readyz` as an
 * operator or anonymously, an HL7 v2 link listening on a given port, SIU^S12 messages each
 * booking its own appointment, one MLLP exchange at a time, and counts read straight from the
 * shared PostgreSQL database.
 */
import net from 'node:net';

import pg from 'pg';

import { encodeFrame, MllpDecoder } from '../../src/hl7/framing.js';
import { hl7Fixture, parseAck, withControlId, withField } from './hl7.js';

export interface Readyz {
  readonly status: number;
  readonly body: {
    status: string;
    problems?: string[];
    down?: { kind: string; id?: string; code: string; reason?: string }[];
  };
}

export async function readyz(url: string, key?: string): Promise<Readyz> {
  const res = await fetch(`${url}/readyz`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

/** POST `json` to an instance's API; throws with the answer unless 200 or 201. */
export async function api<T>(url: string, key: string, path: string, json: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A practice and its hl7v2 link listening on `port` (each instance adds its offset). */
export async function createMllpLink(
  url: string,
  key: string,
  port: number,
): Promise<{ practiceId: string; linkId: string }> {
  const practiceId = (
    await api<{ id: string }>(url, key, '/api/v1/practices', { name: 'Cabinet du Cluster' })
  ).id;
  const linkId = (
    await api<{ id: string }>(url, key, '/api/v1/links', {
      practiceId,
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel du cabinet',
      isTest: true,
      config: { mllp: { listen: { host: '127.0.0.1', port } } },
    })
  ).id;
  return { practiceId, linkId };
}

const S12 = hl7Fixture('siu-s12-new-appointment');

/** SIU^S12 with MSH-10 `C-<id>` booking appointment `B<id>` (fictitious patient of the fixture). */
export function booking(id: string): Buffer {
  return withField(withControlId(S12, `C-${id}`), 'SCH', 2, `B${id}^LOGICIEL-CABINET`);
}

export interface Exchange {
  readonly code: string | undefined;
  readonly acknowledges: string | undefined;
  /** The ACK's bytes, to compare answers of two instances. */
  readonly ack: Buffer;
}

/**
 * One MLLP connection that sends one message at a time and waits for its ACK; `send` rejects
 * when the connection fails or closes first, or after `timeoutMs`.
 */
export class MllpSender {
  private decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
  private waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk))
        if (e.type === 'message') {
          const w = this.waiting;
          this.waiting = undefined;
          w?.resolve(e.payload);
        }
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(port: number, timeoutMs = 3000): Promise<MllpSender> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new MllpSender(socket));
      });
    });
  }

  get open(): boolean {
    return this.failed === undefined;
  }

  send(message: Buffer, timeoutMs = 5000): Promise<Exchange> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error('no ACK in time'));
      }, timeoutMs);
      this.waiting = {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(encodeFrame(message));
    }).then((ack) => {
      const parsed = parseAck(ack);
      return { code: parsed.code, acknowledges: parsed.acknowledges, ack };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends one message on a connection of its own. */
export async function sendOnce(port: number, message: Buffer, timeoutMs = 5000): Promise<Exchange> {
  const s = await MllpSender.connect(port);
  try {
    return await s.send(message, timeoutMs);
  } finally {
    s.close();
  }
}

/** Inbox rows and appointments of a link, read from the shared database. */
export async function storedCounts(
  pgUrl: string,
  linkId: string,
): Promise<{
  inbox: number;
  distinctKeys: number;
  statuses: Record<string, number>;
  appointments: number;
  distinctAppointments: number;
}> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const inbox = await c.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT dedupe_key) AS d FROM inbox WHERE link_id = $1',
      [linkId],
    );
    const statuses = await c.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM inbox WHERE link_id = $1 GROUP BY status',
      [linkId],
    );
    const appts = await c.query<{ n: string; d: string }>(
      "SELECT count(*) AS n, count(DISTINCT external_id) AS d FROM identity_map WHERE link_id = $1 AND kind = 'Appointment'",
      [linkId],
    );
    return {
      inbox: Number(inbox.rows[0]?.n),
      distinctKeys: Number(inbox.rows[0]?.d),
      statuses: Object.fromEntries(statuses.rows.map((r) => [r.status, Number(r.n)])),
      appointments: Number(appts.rows[0]?.n),
      distinctAppointments: Number(appts.rows[0]?.d),
    };
  } finally {
    await c.end();
  }
}
