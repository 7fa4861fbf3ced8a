/**
 * MLLP over TLS with client certificates, on real sockets: a test CA, server and client
 * certificates made with openssl for this run. The listener (key from the link's encrypted
 * credentials) accepts only clients whose certificate the CA signed; the sender checks the
 * simulator's certificate against the CA and presents its own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { Hl7Simulator } from '../../../../connectors/hl7v2/simulator/index.js';
import type { Appointment } from '../../../../src/model/resources.js';
import { SecretBox } from '../../../../src/security/secrets.js';
import {
  hl7Fixture,
  type Hl7LinkHarness,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withControlId,
} from '../../../helpers/hl7.js';
import { tempDir } from '../../../helpers/stores.js';

const dir = tempDir('passerelle-hl7-tls-');
const file = (name: string) => join(dir.path, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, a certificate it signs for `cn` (with 127.0.0.1 as an IP SAN), and its key. */
function makePki(): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Test CA passerelle',
  );
  const issue = (name: string, cn: string, ca: string) => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    writeFileSync(file(`${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file(`${ca}.pem`),
      '-CAkey',
      file(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      file(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
    );
  };
  issue('server', 'passerelle', 'ca');
  issue('client', 'logiciel-cabinet', 'ca');
  // A client certificate from another CA: must be refused.
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('rogue-ca.key'),
    '-out',
    file('rogue-ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Rogue CA',
  );
  issue('rogue', 'intrus', 'rogue-ca');
}

const S17 = hl7Fixture('siu-s17-delete-v23');

describe('MLLP over TLS', () => {
  let h: Hl7LinkHarness;
  let sim: Hl7Simulator;
  const pem = (name: string) => readFileSync(file(name), 'utf8');

  beforeAll(async () => {
    makePki();
    sim = await Hl7Simulator.start({
      tls: { cert: pem('server.pem'), key: pem('server.key'), ca: pem('ca.pem'), requestClientCert: true },
    });
    h = await startHl7Link({
      config: {
        mllp: {
          listen: {
            host: '127.0.0.1',
            port: 0,
            tls: { cert: file('server.pem'), ca: file('ca.pem'), requestClientCert: true },
          },
          send: {
            host: '127.0.0.1',
            port: sim.port,
            ackTimeoutMs: 2000,
            tls: { ca: file('ca.pem'), cert: file('client.pem'), key: file('client.key') },
          },
        },
      },
      before: async (store) => {
        const [link] = await store.links.list();
        if (!link) throw new Error('no link');
        // The listener's private key comes from the link's encrypted credentials.
        await store.links.update(link.id, {
          secrets: new SecretBox(Buffer.alloc(32, 7)).sealJson(
            { mllpListenTlsKey: pem('server.key') },
            link.id,
          ),
        });
      },
    });
  });
  afterAll(async () => {
    await h.dispose();
    await sim.close();
    dir.remove();
  });

  it('acknowledges a client whose certificate the CA signed', async () => {
    const c = await RawMllpSocket.connect(h.port, {
      tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key'), servername: 'localhost' },
    });
    const ack = parseAck(await c.request(withControlId(S17, 'TLS-1')));
    expect([ack.code, ack.acknowledges]).toEqual(['AA', 'TLS-1']);
    c.destroy();
  });

  it.each([
    ['without a certificate', {}],
    ['with a certificate from another CA', { cert: 'rogue.pem', key: 'rogue.key' }],
  ])('refuses a client %s: no ACK, nothing stored', async (_what, creds: { cert?: string; key?: string }) => {
    const attempt = async () => {
      const c = await RawMllpSocket.connect(h.port, {
        tls: {
          ca: pem('ca.pem'),
          servername: 'localhost',
          ...(creds.cert && { cert: pem(creds.cert), key: pem(creds.key as string) }),
        },
      });
      c.send(withControlId(S17, 'TLS-REFUSED'));
      await c.closed;
      return c.blocks.length;
    };
    // TLS 1.3 may complete the client's side of the handshake before the server refuses it.
    await expect(attempt().catch(() => 0)).resolves.toBe(0);
    expect(
      (await h.store.inbox.list({ linkId: h.link.id })).some((e) => e.dedupeKey.endsWith('|TLS-REFUSED')),
    ).toBe(false);
  });

  it('sends over TLS with a client certificate, checking the peer against the CA', async () => {
    const data: Appointment = {
      resourceType: 'Appointment',
      id: 'tls-appt',
      status: 'booked',
      start: '2026-12-01T08:30:00Z',
      participant: [{ actor: { reference: 'Practitioner/819999900012' }, status: 'accepted' }],
    };
    const result = await h.connector.push({
      seq: 1,
      op: 'upsert',
      kind: 'Appointment',
      canonicalId: 'tls-appt',
      externalId: null,
      expectedVersion: null,
      data,
      base: null,
      idempotencyKey: 'tls-key',
      priority: 5,
    });
    expect(result.ok).toBe(true);
    expect((await sim.waitForMessages(1))[0]?.answered).toBe('AA');
  });

  it('refuses to send to a peer whose certificate the configured CA did not sign', async () => {
    const rogue = await Hl7Simulator.start({ tls: { cert: pem('rogue.pem'), key: pem('rogue.key') } });
    const other = await startHl7Link({
      config: {
        mllp: {
          send: { host: '127.0.0.1', port: rogue.port, ackTimeoutMs: 2000, tls: { ca: file('ca.pem') } },
        },
      },
    });
    try {
      const data: Appointment = {
        resourceType: 'Appointment',
        id: 'rogue-appt',
        status: 'booked',
        start: '2026-12-01T08:30:00Z',
        participant: [{ actor: { reference: 'Practitioner/819999900012' }, status: 'accepted' }],
      };
      const result = await other.connector.push({
        seq: 1,
        op: 'upsert',
        kind: 'Appointment',
        canonicalId: 'rogue-appt',
        externalId: null,
        expectedVersion: null,
        data,
        base: null,
        idempotencyKey: 'rogue-key',
        priority: 5,
      });
      expect(result.ok === false && [result.error.code, result.error.retryable]).toEqual([
        'ERR_MLLP_CONNECTION',
        true,
      ]);
      expect(rogue.received).toHaveLength(0);
    } finally {
      await other.dispose();
      await rogue.close();
    }
  });
});
