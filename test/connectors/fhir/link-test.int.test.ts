/**
 * `passerelle simulate fhir` and `passerelle link test <id>` (issue item 5) through the real
 * binary. The link test runs against the FHIR peer
 * (everything the shipped profile needs is there), and against a server whose
 * CapabilityStatement lacks a conditional update and a search parameter, reached with the
 * link's encrypted bearer token (a small wrapper in front of the peer checks it and serves the
 * altered /metadata).
 */
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CapabilityStatement } from '@medplum/fhirtypes';

import { demoPractice, type FhirPeer, startFhirPeer } from '../../../connectors/fhir/peer/index.js';
import { loadOrCreateKey } from '../../../src/security/secrets.js';
import { openSqliteStore } from '../../../src/store/index.js';
import { BIN, cleanEnv, ROOT, runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/stores.js';

const TOKEN = 'jeton-du-logiciel-de-test';

/** Forwards to the peer, requires the bearer token, and serves its /metadata altered by `alter`. */
async function startWrapper(
  peer: FhirPeer,
  alter: (cs: CapabilityStatement) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(peer.url);
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res
        .writeHead(401, { 'content-type': 'application/fhir+json' })
        .end(
          JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }),
        );
      return;
    }
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `${target.hostname}:${target.port}` },
      },
      (answer) => {
        if (!req.url?.endsWith('/metadata')) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const cs = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CapabilityStatement;
          alter(cs);
          res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(cs));
        });
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${target.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('passerelle link test', () => {
  const dir = tempDir('passerelle-linktest-');
  const dbPath = join(dir.path, 'data', 'passerelle.db');
  const env = { PASSERELLE_STORE_SQLITE_PATH: dbPath };
  let peer: FhirPeer;
  let wrapper: Awaited<ReturnType<typeof startWrapper>>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    peer = await startFhirPeer();
    await peer.seed(demoPractice(new Date('2030-03-11T00:00:00Z')));
    wrapper = await startWrapper(peer, (cs) => {
      for (const r of cs.rest?.[0]?.resource ?? []) {
        if (r.type === 'Appointment') {
          r.conditionalUpdate = false;
          r.conditionalCreate = false;
        }
        if (r.type === 'Slot') r.searchParam = (r.searchParam ?? []).filter((p) => p.name !== '_lastUpdated');
      }
    });
    // The CLI seals and opens credentials with the key beside the store, as `serve` does.
    const { box } = loadOrCreateKey(undefined, join(dir.path, 'data', 'secret.key'));
    const store = await openSqliteStore({ path: dbPath, sealing: box.keyring });
    await store.migrate();
    const practice = await store.practices.create({ name: 'Cabinet des Essais' });
    const link = async (name: string, connector: string, config: object, secrets: object | null) => {
      const id = `lnk-${name}`;
      await store.links.create({
        id,
        practiceId: practice.id,
        role: connector === 'secretariat' ? 'secretariat' : 'practice',
        connector,
        name,
        config: config as never,
        secrets: secrets ? box.sealJson(secrets, id) : null,
        isTest: true,
      });
      return id;
    };
    ids['peer'] = await link('peer', 'fhir', { baseUrl: peer.url }, null);
    ids['lacking'] = await link(
      'lacking',
      'fhir',
      { baseUrl: wrapper.url, auth: { type: 'bearer' } },
      { token: TOKEN },
    );
    ids['wrongToken'] = await link(
      'wrong-token',
      'fhir',
      { baseUrl: wrapper.url, auth: { type: 'bearer' } },
      { token: 'un-autre-jeton' },
    );
    ids['secretariat'] = await link(
      'secretariat',
      'secretariat',
      { baseUrl: 'http://127.0.0.1:9', platformPracticeId: 'prac_1' },
      { apiToken: 'x' },
    );
    await store.close();
  }, 30_000);

  afterAll(async () => {
    await wrapper.close();
    await peer.close();
    dir.remove();
  });

  it('prints an all-✓ checklist for a server that offers everything the profile needs, and exits 0', async () => {
    const r = await runCli(['link', 'test', ids['peer'] as string], { cwd: ROOT, env });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('passerelle link test lnk-peer — peer (fhir, profil / profile fhir-r4-fr-core)');
    expect(lines[1]).toBe(
      `Serveur / server: ${peer.url} — passerelle-fhir-peer (Medplum fhir-router) 4.5.2, FHIR 4.0.1`,
    );
    expect(r.stdout).toContain(
      '\nAppointment — écriture / push\n  ✓ read (lecture par id / read by id)\n  ✓ update (PUT Type/id)\n  ✓ If-Match (versioning = versioned-update)\n  ✓ paramètre / parameter identifier\n  ✓ conditional update (PUT Appointment?identifier=…)\n',
    );
    expect(r.stdout).toContain(
      '\nPatient — lecture / pull\n  ✓ search-type (recherche / search)\n  ✓ paramètre / parameter _lastUpdated\n  ✓ _count + _sort=_lastUpdated (essai / probe)\n  ✓ _sort=-_lastUpdated (essai / probe)\n',
    );
    // The peer has no type-level _history and no Subscription: optional, reported, not fatal.
    expect(r.stdout).toContain(
      '  – history-type (suppressions / deletions) — optionnel, absent / optional, missing: sans elle, les suppressions sont trouvées par une vérification périodique des identifiants connus / without it, deletions are found by a periodic check of the known ids',
    );
    expect(lines.filter((l) => l.startsWith('  ✗'))).toEqual([]);
    // history-type for each of the 7 kinds the profile pulls (PractitionerRole included), and Subscription.
    expect(lines.at(-2)).toMatch(
      /^Résumé \/ summary: \d+ ✓, 0 ✗ requis \/ required, 8 optionnels absents \/ optional missing — le lien peut fonctionner \/ the link can work$/,
    );
  });

  it('names each missing interaction and search parameter, and exits 1', async () => {
    const r = await runCli(['link', 'test', ids['lacking'] as string], { cwd: ROOT, env });
    expect(r.code).toBe(1);
    const missing = r.stdout.split('\n').filter((l) => l.startsWith('  ✗'));
    expect(missing).toEqual([
      '  ✗ paramètre / parameter _lastUpdated — manquant / missing',
      '  ✗ conditional update (PUT Appointment?identifier=…) — manquant / missing: ni conditional update ni conditional create / neither conditional update nor conditional create',
    ]);
    expect(r.stdout).toContain(
      '\nSlot — lecture / pull\n  ✓ search-type (recherche / search)\n  ✗ paramètre / parameter _lastUpdated',
    );
    expect(r.stdout).toMatch(
      /\nRésumé \/ summary: \d+ ✓, 2 ✗ requis \/ required, .* — le lien ne peut pas fonctionner tel quel \/ the link cannot work as it is\n$/,
    );
  });

  it('says the server could not be read when the link’s credentials are refused', async () => {
    const r = await runCli(['link', 'test', ids['wrongToken'] as string], { cwd: ROOT, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '  ✗ CapabilityStatement lue / read (GET /metadata) — manquant / missing: ERR_FHIR_AUTH: FHIR capabilities failed: HTTP 401 (login)',
    );
    expect(r.stdout).not.toContain('un-autre-jeton');
  });

  it('refuses a link that is not a FHIR link, as a usage error', async () => {
    const r = await runCli(['link', 'test', ids['secretariat'] as string], { cwd: ROOT, env });
    expect([r.code, r.stderr.trim()]).toEqual([
      2,
      'passerelle: link test checks fhir links; link lnk-secretariat uses secretariat',
    ]);
    const unknown = await runCli(['link', 'test', 'lnk-nope'], { cwd: ROOT, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/lnk-nope/);
  });
});

describe('passerelle simulate fhir', () => {
  it('runs the FHIR peer with the demo practice on a free port, prints its URL and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'simulate', 'fhir', '--port', '0', '--seed', 'demo', '--patients', '25'],
      { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`simulate fhir did not start in time:\n${out}`)),
        30_000,
      );
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^FHIR R4 peer listening on (http:\/\/\S+) \(seed demo, \+25 patients\)$/m.exec(out);
        if (m && out.includes('CapabilityStatement:')) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
    });
    try {
      const metadata = (await (await fetch(`${url}/metadata`)).json()) as CapabilityStatement;
      expect(metadata.fhirVersion).toBe('4.0.1');
      const patients = (await (await fetch(`${url}/Patient?_count=1`)).json()) as { total: number };
      const appointments = (await (await fetch(`${url}/Appointment`)).json()) as { total: number };
      expect([patients.total, appointments.total]).toEqual([35, 2]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses a bad port or patient count as a usage error', async () => {
    const port = await runCli(['simulate', 'fhir', '--port', 'http'], { cwd: ROOT });
    expect([port.code, port.stderr.trim()]).toEqual([2, 'passerelle: --port must be 0-65535, not http']);
    const patients = await runCli(['simulate', 'fhir', '--patients', '-3'], { cwd: ROOT });
    expect([patients.code, patients.stderr.trim()]).toEqual([
      2,
      'passerelle: --patients must be 0-1000000, not -3',
    ]);
  });
});
