/**
 * `passerelle serve --demo` as a user runs it (`npm start`): a child process in a temporary
 * working directory, observed through what it prints and through HTTP only (admin API, reports,
 * iCal feed, /metrics), stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { BIN, cleanEnv } from '../helpers/cli.js';
import { tempDir } from '../helpers/stores.js';
import { untilWith } from '../helpers/until.js';

interface DemoProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly apiUrl: string;
  readonly baseUrl: string;
  readonly adminKey: string;
  readonly feeds: string[];
  readonly metricsUrl: string;
  output(): string;
}

const children = new Set<ChildProcess>();

// A whole world started cold in a process of its own, at a lower priority: on a machine where
// other suites run, it takes minutes rather than seconds. Generous budgets, bounded waits.
const BANNER_MS = 180_000;
const STOP_MS = 60_000;
const TEST_MS = 480_000;

/** Starts the demo and resolves once its banner (French) is complete. */
function startDemo(cwd: string, env: Record<string, string> = {}): Promise<DemoProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--demo'], {
      cwd,
      env: cleanEnv({ PASSERELLE_HTTP_PORT: '0', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    // The demo is a whole world (service, FHIR peer, simulators, traffic): at a lower priority it
    // leaves the CPU to the suites running beside it, which have their own time limits.
    if (child.pid !== undefined) setPriority(child.pid, 10);
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    void exited.then(() => children.delete(child));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not print its banner in time:\n${out}`));
    }, BANNER_MS);
    let done = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (done || !/journaux JSON : .*\n/.test(out)) return;
      done = true;
      clearTimeout(timer);
      const apiUrl = /API d'administration : (http:\/\/\S+\/api\/v1)/.exec(out)?.[1];
      const adminKey = /clé d'administration : (psk_\S+)/.exec(out)?.[1];
      const metricsUrl = /métriques : (http:\/\/\S+\/metrics)/.exec(out)?.[1];
      const feeds = [...out.matchAll(/ : (http:\/\/\S+\/ical\/\S+\.ics)/g)].map((m) => m[1] as string);
      if (!apiUrl || !adminKey || !metricsUrl) return reject(new Error(`banner incomplete:\n${out}`));
      resolve({
        child,
        exited,
        apiUrl,
        baseUrl: apiUrl.replace(/\/api\/v1$/, ''),
        adminKey,
        feeds,
        metricsUrl,
        output: () => out,
      });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`the demo exited (${code}) before its banner:\n${out}`));
    });
  });
}

async function stop(demo: DemoProcess): Promise<number | null> {
  demo.child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_MS).unref());
  const code = await Promise.race([demo.exited, timeout]);
  if (code === 'timeout') {
    demo.child.kill('SIGKILL');
    throw new Error(`the demo did not stop within ${STOP_MS / 1000} s of SIGTERM:\n${demo.output()}`);
  }
  return code;
}

async function getJson<T>(demo: DemoProcess, path: string): Promise<T> {
  const res = await fetch(`${demo.apiUrl}${path}`, { headers: { authorization: `Bearer ${demo.adminKey}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

// The demo service is a child process still starting: its API may refuse a connection at first.
const until = untilWith({ ms: 180_000, everyMs: 500, tolerateErrors: true });

type Counts = { booked: number };
interface Report {
  appointments: { total: Counts; byOrigin: { secretariat: Counts; practice: Counts } };
  messages: { all: { received: number } };
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const activity = (demo: DemoProcess, practice: string) =>
  getJson<Report>(demo, `/reports/activity?practice=${practice}&from=${day(-1)}&to=${day(2)}`);

describe('passerelle serve --demo (npm start)', () => {
  const dirs: { remove: () => void }[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) d.remove();
  });

  it(
    'runs two practices with live traffic: appointments from both sides in the reports, VEVENTs in a feed, /metrics, and SIGTERM exits 0',
    async () => {
      const cwd = tempDir('passerelle-demo-e2e-');
      dirs.push(cwd);
      const demo = await startDemo(cwd.path);
      try {
        // The store is the default demo directory under the working directory.
        expect(existsSync(join(cwd.path, 'data', 'demo', 'passerelle.db'))).toBe(true);
        expect(demo.feeds.length).toBeGreaterThanOrEqual(4);
        // The console is the first address the banner gives, and it answers.
        const firstUrl = /https?:\/\/\S+/.exec(demo.output())?.[0];
        expect(firstUrl).toBe(`${demo.baseUrl}/console/`);
        const page = await fetch(firstUrl as string);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<html lang="fr">');
        const practices = (await getJson<{ items: { id: string }[] }>(demo, '/practices')).items
          .map((p) => p.id)
          .sort();
        expect(practices).toEqual(['demo-cabinet-fhir', 'demo-cabinet-hl7']);

        for (const practice of practices) {
          // What the practice software held, and what the agents booked, went through passerelle.
          const report = await until(`secretariat and practice bookings of ${practice}`, async () => {
            const r = await activity(demo, practice);
            return r.appointments.byOrigin.secretariat.booked >= 1 &&
              r.appointments.byOrigin.practice.booked >= 1 &&
              r.messages.all.received >= 1
              ? r
              : undefined;
          });
          expect(report.appointments.total.booked).toBeGreaterThanOrEqual(2);
        }

        const ics = await until('a feed with events', async () => {
          const res = await fetch(demo.feeds[0] as string);
          const text = await res.text();
          return res.status === 200 && text.includes('BEGIN:VEVENT') ? text : undefined;
        });
        expect(ics).toMatch(/^BEGIN:VCALENDAR/);

        const metrics = await fetch(demo.metricsUrl);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain('passerelle_http_requests_total');

        // The demo data books nothing the secretariat platform would refuse.
        expect((await getJson<{ items: unknown[] }>(demo, '/dead-letters?status=open')).items).toEqual([]);

        // The practice staff's events of the opening name people, never internal ids.
        const lines = await until('the FHIR practice staff events on the console', async () => {
          const out = demo.output();
          return /\[cabinet FHIR\] le secrétariat du cabinet bloque l'après-midi du .* de Dr \S+ \S+ dans son logiciel/.test(
            out,
          ) &&
            /\[cabinet FHIR\] le cabinet met à jour le téléphone d'un patient \([A-ZÉ]\. [A-ZÉ]\.\) dans son logiciel/.test(
              out,
            )
            ? out
            : undefined;
        });
        expect(lines).not.toMatch(/\((Patient|Practitioner|Schedule)\/|agenda-\d|pat-|FICTIF-\d/);
      } finally {
        expect(await stop(demo)).toBe(0);
      }
      // French lines only: the keys a first start creates are noted in the banner, the JSON logs
      // (English, for IT staff) stay in the log file.
      expect(demo.output()).toContain('clé de chiffrement des identifiants créée pour la démonstration :');
      expect(demo.output()).not.toMatch(/^\s*\{"/m);
    },
    TEST_MS,
  );

  it(
    'starts again on the same demo directory without duplicating practices, links or feeds',
    async () => {
      const dir = tempDir('passerelle-demo-e2e-');
      dirs.push(dir);
      const env = { PASSERELLE_DEMO_DIR: join(dir.path, 'demo') };
      const first = await startDemo(dir.path, env);
      expect(await stop(first)).toBe(0);
      expect(first.output()).toContain("clé du journal d'audit créée pour la démonstration :");

      const second = await startDemo(dir.path, env);
      try {
        expect(existsSync(join(dir.path, 'demo', 'passerelle.db'))).toBe(true);
        expect(second.adminKey).toBe(first.adminKey);
        expect(second.feeds.map((f) => f.replace(second.baseUrl, ''))).toEqual(
          first.feeds.map((f) => f.replace(first.baseUrl, '')),
        );
        expect(
          (await getJson<{ items: { id: string }[] }>(second, '/practices')).items.map((p) => p.id).sort(),
        ).toEqual(['demo-cabinet-fhir', 'demo-cabinet-hl7']);
        expect(
          (await getJson<{ items: { id: string }[] }>(second, '/links')).items.map((l) => l.id).sort(),
        ).toEqual([
          'demo-cabinet-fhir-logiciel',
          'demo-cabinet-fhir-secretariat',
          'demo-cabinet-hl7-logiciel',
          'demo-cabinet-hl7-secretariat',
        ]);
        expect((await getJson<{ items: unknown[] }>(second, '/ical/tokens')).items).toHaveLength(
          first.feeds.length,
        );
        // The keys exist now: nothing to note.
        expect(second.output()).not.toContain('créée pour la démonstration');
      } finally {
        expect(await stop(second)).toBe(0);
      }
    },
    TEST_MS,
  );
});
