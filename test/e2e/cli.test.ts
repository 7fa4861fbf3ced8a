import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';

import { runCli, runCliInProcess, startServe } from '../helpers/cli.js';
import { tempDir } from '../helpers/stores.js';

describe('passerelle command line', () => {
  const dir = tempDir('passerelle-cli-');
  afterAll(() => dir.remove());

  // Processes of their own (a cold start each, slow on a busy machine): serve and its signals.
  const PROCESS_BUDGET = 120_000;

  it(
    'serves on the embedded store, prints its URL and a first admin key, and stops cleanly on SIGTERM',
    async () => {
      const s = await startServe({ cwd: dir.path });
      try {
        expect(s.adminKey).toMatch(/^psk_/);
        expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
        const res = await fetch(`${s.url}/api/v1/practices`, {
          headers: { authorization: `Bearer ${s.adminKey}` },
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ items: [] });
      } finally {
        s.child.kill('SIGTERM');
      }
      expect(await s.exited).toBe(0);
      expect(s.output()).toContain('"message":"passerelle stopped"');
    },
    PROCESS_BUDGET,
  );

  it(
    'does not print a new admin key once one exists',
    async () => {
      const s = await startServe({ cwd: dir.path });
      s.child.kill('SIGTERM');
      await s.exited;
      expect(s.adminKey).toBeUndefined();
    },
    PROCESS_BUDGET,
  );

  it(
    'stops at start-up on a config typo, naming the file, line and key',
    async () => {
      const cfg = join(dir.path, 'typo.yaml');
      writeFileSync(cfg, 'store:\n  drvier: sqlite\n');
      // A real process: its exit code and its one stderr line (the other commands run in-process).
      const r = await runCli(['serve', '--config', cfg], { cwd: dir.path });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `passerelle: invalid configuration: ${cfg}:2:3 store.drvier: unknown key (did you mean driver?)`,
      );
    },
    PROCESS_BUDGET,
  );

  it('stops at start-up on a mistyped environment variable', async () => {
    const r = await runCliInProcess(['serve'], { cwd: dir.path, env: { PASSERELLE_HTTP_PROT: '9' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'PASSERELLE_HTTP_PROT: unknown environment variable (did you mean PASSERELLE_HTTP_PORT?)',
    );
  });

  it('creates API keys with a role and refuses an unknown role', async () => {
    const ok = await runCliInProcess(['apikey', 'create', '--role', 'viewer', '--label', 'tableau de bord'], {
      cwd: dir.path,
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^psk_[A-Za-z0-9_-]{43}$/);
    const bad = await runCliInProcess(['apikey', 'create', '--role', 'root'], { cwd: dir.path });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("argument 'root' is invalid");
    const list = await runCliInProcess(['apikey', 'list'], { cwd: dir.path });
    expect(list.stdout).toContain('viewer');
    expect(list.stdout).not.toContain(ok.stdout.trim());
  });

  describe('audit verify', () => {
    beforeAll(async () => {
      // Some audited actions: key creations above plus one more.
      await runCliInProcess(['apikey', 'create', '--role', 'integrator'], { cwd: dir.path });
    });

    it('reports an intact chain', async () => {
      const r = await runCliInProcess(['audit', 'verify'], { cwd: dir.path });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/audit trail verified: \d+ events, chain intact/);
    });

    it('reports the last events removed and the head moved back, against the signed checkpoint file', async () => {
      const cp = await runCliInProcess(['audit', 'checkpoint'], { cwd: dir.path });
      expect(cp.stdout).toMatch(/checkpoint of event #\d+ appended/);
      const db = new BetterSqlite3(join(dir.path, 'data', 'passerelle.db'));
      const all = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Record<string, unknown>[];
      const head = db.prepare('SELECT seq, hash FROM audit_head').get() as { seq: number; hash: string };
      const kept = all[all.length - 2] as { seq: number; hash: string };
      const removed = all[all.length - 1] as Record<string, unknown>;
      db.prepare('DELETE FROM audit_events WHERE seq > ?').run(kept.seq);
      db.prepare('UPDATE audit_head SET seq = ?, hash = ?').run(kept.seq, kept.hash);
      const r = await runCliInProcess(['audit', 'verify'], { cwd: dir.path });
      // Put things back for the next test.
      db.prepare(
        `INSERT INTO audit_events (${Object.keys(removed).join(', ')}) VALUES (${Object.keys(removed)
          .map(() => '?')
          .join(', ')})`,
      ).run(...Object.values(removed));
      db.prepare('UPDATE audit_head SET seq = ?, hash = ?').run(head.seq, head.hash);
      db.close();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `audit trail broken at event #${kept.seq + 1}: events after #${kept.seq} up to #${removed['seq'] as number}`,
      );
    });

    it('reports the first broken event after a row is edited in the database', async () => {
      const db = new BetterSqlite3(join(dir.path, 'data', 'passerelle.db'));
      const row = db.prepare('SELECT seq FROM audit_events ORDER BY seq LIMIT 1 OFFSET 1').get() as {
        seq: number;
      };
      db.prepare("UPDATE audit_events SET actor = 'intrus' WHERE seq = ?").run(row.seq);
      db.close();
      const r = await runCliInProcess(['audit', 'verify'], { cwd: dir.path });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `passerelle: audit trail broken at event #${row.seq}: content does not match its hash under the audit key (the row was edited, or re-chained without the key) (1 events before it verify)`,
      );
    });
  });

  it('migrates a new store and says so, then says it is current', async () => {
    const other = tempDir();
    try {
      const first = await runCliInProcess(['migrate'], { cwd: other.path });
      expect(first.stdout).toMatch(/applied \d+ migration\(s\): 0001_core/);
      const second = await runCliInProcess(['migrate'], { cwd: other.path });
      expect(second.stdout.trim()).toBe('store schema already current');
    } finally {
      other.remove();
    }
  });

  it('refuses key management on a store that was never migrated', async () => {
    const other = tempDir();
    try {
      const r = await runCliInProcess(['apikey', 'list'], { cwd: other.path });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('run passerelle migrate');
    } finally {
      other.remove();
    }
  });

  it.each([['serve'], ['migrate'], ['apikey', 'create'], ['audit', 'verify']])(
    'prints help for %s',
    async (...cmd: string[]) => {
      const r = await runCliInProcess([...cmd, '--help'], { cwd: dir.path });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: passerelle /);
    },
  );
});
