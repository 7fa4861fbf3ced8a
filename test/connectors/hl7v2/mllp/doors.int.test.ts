/**
 * Early warning at the MLLP door (issue 16 point 7), over real TCP sockets on loopback through
 * the hl7v2 connector started by the sync runtime: connections capped per source address and in
 * total, refusals counted in the metric and logged by address (one warn line per burst), idle
 * connections closed. 127.0.0.2 and 127.0.0.3 stand for other senders.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Writable } from 'node:stream';
import tls from 'node:tls';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import client from 'prom-client';

import { createLogger } from '../../../../src/log/logger.js';
import { RefusalWatch } from '../../../../src/security/refusals.js';
import { until } from '../../../helpers/fhir-world.js';
import { type Hl7LinkHarness, listenConfig, startHl7Link } from '../../../helpers/hl7.js';
import { tempDir } from '../../../helpers/stores.js';
import { selfSignedCertificate } from '../../../helpers/tls.js';

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [key: string]: unknown;
}

/** A TCP connection from `localAddress`; `closed` resolves when the server (or we) closed it. */
function open(port: number, localAddress: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('MLLP connection caps', () => {
  let h: Hl7LinkHarness;
  let registry: client.Registry;
  const logs: LogLine[] = [];
  const sockets: net.Socket[] = [];

  const refusals = async (kind: string) =>
    ((await registry.getSingleMetric('passerelle_door_refusals_total')?.get())?.values ?? []).find(
      (v) => v.labels['door'] === 'mllp' && v.labels['kind'] === kind,
    )?.value ?? 0;
  const connect = async (localAddress: string) => {
    const c = await open(h.port, localAddress);
    sockets.push(c.socket);
    return c;
  };

  beforeAll(async () => {
    registry = new client.Registry();
    const logger = createLogger({
      level: 'info',
      stream: new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n'))
            if (line.trim()) logs.push(JSON.parse(line) as LogLine);
          done();
        },
      }),
    });
    h = await startHl7Link({
      config: listenConfig({}, { maxConnections: 5, maxConnectionsPerAddress: 3 }),
      logger,
      refusals: new RefusalWatch({ logger, registry, burstThreshold: 3 }),
    });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await until('every connection closed', () => h.connector.mllpConnections === 0);
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('refuses a connection past the per-address cap, counts it and still takes other addresses', async () => {
    for (let i = 0; i < 3; i += 1) await connect('127.0.0.1');
    await until('three connections open', () => h.connector.mllpConnections === 3);

    const over = await connect('127.0.0.1');
    await over.closed;
    expect(await refusals('per-address-cap')).toBe(1);

    const other = await connect('127.0.0.2');
    await until('a fourth connection open', () => h.connector.mllpConnections === 4);
    expect(other.socket.destroyed).toBe(false);
    expect(logs.filter((l) => l.message === 'refused at the door')).toEqual([
      expect.objectContaining({ level: 'info', door: 'mllp', client: '127.0.0.1', kind: 'per-address-cap' }),
    ]);
  });

  it('refuses past the total cap whatever the address, and takes a connection again once one closed', async () => {
    for (const from of ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2', '127.0.0.3']) await connect(from);
    await until('five connections open', () => h.connector.mllpConnections === 5);

    const over = await connect('127.0.0.3');
    await over.closed;
    expect(await refusals('total-cap')).toBe(1);

    sockets[0]?.destroy();
    await until('a slot freed', () => h.connector.mllpConnections === 4);
    await connect('127.0.0.3');
    await until('the slot taken again', () => h.connector.mllpConnections === 5);
  });

  it('logs one warn line for a burst of refusals from one address, not one per refusal', async () => {
    for (let i = 0; i < 3; i += 1) await connect('127.0.0.1');
    await until('three connections open', () => h.connector.mllpConnections === 3);
    const before = await refusals('per-address-cap');
    // One refusal already counted for 127.0.0.1 in this window; six more: the burst (3) is reached once.
    for (let i = 0; i < 6; i += 1) await (await connect('127.0.0.1')).closed;
    expect(await refusals('per-address-cap')).toBe(before + 6);
    const bursts = logs.filter((l) => l.message === 'burst of refusals from one client address');
    expect(bursts).toEqual([
      expect.objectContaining({ level: 'warn', door: 'mllp', client: '127.0.0.1', refusals: 3 }),
    ]);
    expect(await registry.getSingleMetricAsString('passerelle_door_refusal_bursts_total')).toContain(
      'passerelle_door_refusal_bursts_total{door="mllp"} 1',
    );
    expect(
      logs.filter((l) => l.message === 'refused at the door' && l['client'] === '127.0.0.1'),
    ).toHaveLength(2);
  });
});

describe('MLLP idle connections', () => {
  let h: Hl7LinkHarness;

  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig({}, { idleTimeoutMs: 200 }) });
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('closes a connection that sends nothing, freeing its slot', async () => {
    const idle = await open(h.port, '127.0.0.1');
    await until('the connection registered', () => h.connector.mllpConnections === 1);
    await idle.closed;
    await until('the slot freed', () => h.connector.mllpConnections === 0);
  });
});

describe('MLLP over TLS, connection caps', () => {
  let h: Hl7LinkHarness;
  let registry: client.Registry;
  const dir = tempDir('passerelle-mllp-doors-');
  let cert = '';

  beforeAll(async () => {
    const made = selfSignedCertificate(dir.path, 'localhost');
    cert = made.cert;
    const { key } = made;
    registry = new client.Registry();
    const logger = createLogger({ silent: true });
    h = await startHl7Link({
      config: listenConfig({}, { maxConnectionsPerAddress: 1, tls: { cert, key } }),
      logger,
      refusals: new RefusalWatch({ logger, registry }),
    });
  });
  afterAll(async () => {
    await h.dispose();
    dir.remove();
  });

  it('refuses a connection over the cap before its handshake', async () => {
    const connectTls = () =>
      new Promise<{ socket: tls.TLSSocket; secured: boolean; closed: Promise<void> }>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: h.port, ca: readFileSync(cert) });
        const closed = new Promise<void>((r) => socket.once('close', () => r()));
        socket.on('error', () => undefined);
        socket.once('secureConnect', () => resolve({ socket, secured: true, closed }));
        void closed.then(() => resolve({ socket, secured: false, closed }));
      });
    const first = await connectTls();
    expect(first.secured).toBe(true);
    await until('the first connection registered', () => h.connector.mllpConnections === 1);
    const second = await connectTls();
    expect(second.secured).toBe(false);
    const values = (await registry.getSingleMetric('passerelle_door_refusals_total')?.get())?.values ?? [];
    expect(values.find((v) => v.labels['kind'] === 'per-address-cap')?.value).toBe(1);
    first.socket.destroy();
  });
});
