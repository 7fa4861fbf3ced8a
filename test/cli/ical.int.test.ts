/** `passerelle ical token create|rotate|revoke|list` against a real store, served by `passerelle serve`. */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { loadOrCreateKey } from '../../src/security/secrets.js';
import { openSqliteStore } from '../../src/store/index.js';
import { runCliInProcess, type ServingProcess, startServe } from '../helpers/cli.js';
import { practitioner } from '../helpers/ical-agenda.js';
import { rawGet } from '../helpers/ical-http.js';
import { tempDir } from '../helpers/stores.js';

const URL_LINE = /^http:\/\/127\.0\.0\.1:8080\/ical\/(ics_[A-Za-z0-9_-]{43})\.ics$/;

describe('passerelle ical token', () => {
  const dir = tempDir('passerelle-ical-cli-');
  let serve: ServingProcess;
  const feedUrl = (token: string) => `${serve.url}/ical/${token}.ics`;

  beforeAll(async () => {
    expect((await runCliInProcess(['migrate'], { cwd: dir.path })).code).toBe(0);
    // Sealed with the key file `migrate` created beside the store, as `serve` will open it.
    const { box } = loadOrCreateKey(undefined, join(dir.path, 'data', 'secret.key'));
    const store = await openSqliteStore({
      path: join(dir.path, 'data', 'passerelle.db'),
      sealing: box.keyring,
    });
    await store.practices.create({ id: 'cab-cli', name: 'Cabinet en ligne de commande' });
    const doc = practitioner('pr-cli', 'Claire', 'Terminal', '10001112223');
    await store.resources.put({
      id: doc.id,
      practiceId: 'cab-cli',
      kind: 'Practitioner',
      data: doc,
      origin: 'practice',
    });
    await store.close();
    serve = await startServe({ cwd: dir.path });
  }, 60_000);
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    dir.remove();
  });

  it('creates a feed, prints its URL once, lists it without the URL, rotates and revokes it while the service runs', async () => {
    const created = await runCliInProcess(
      [
        'ical',
        'token',
        'create',
        '--practice',
        'cab-cli',
        '--practitioner',
        'pr-cli',
        '--label',
        'iPhone Dr Terminal',
        '--expire-unused-days',
        '30',
      ],
      { cwd: dir.path },
    );
    expect(created.code).toBe(0);
    const token = URL_LINE.exec(created.stdout.trim())?.[1] as string;
    expect(token).toBeDefined();
    const id = /created feed (\S+) \(privacy busy\)/.exec(created.stderr)?.[1] as string;
    expect(id).toBeDefined();

    const feed = await rawGet(feedUrl(token));
    expect(feed.status).toBe(200);
    expect(feed.text).toContain('X-WR-CALNAME:Agenda Dr Claire TERMINAL — Cabinet en ligne de commande');

    const list = await runCliInProcess(['ical', 'token', 'list', '--practice', 'cab-cli'], { cwd: dir.path });
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('iPhone Dr Terminal');
    expect(list.stdout).not.toContain(token);

    const rotated = await runCliInProcess(['ical', 'token', 'rotate', id], { cwd: dir.path });
    expect(rotated.code).toBe(0);
    const next = URL_LINE.exec(rotated.stdout.trim())?.[1] as string;
    expect(next).not.toBe(token);
    expect((await rawGet(feedUrl(token))).status).toBe(404);
    expect((await rawGet(feedUrl(next))).status).toBe(200);

    expect((await runCliInProcess(['ical', 'token', 'revoke', id], { cwd: dir.path })).stdout.trim()).toBe(
      `revoked ${id}`,
    );
    expect((await rawGet(feedUrl(next))).status).toBe(404);
    const all = await runCliInProcess(['ical', 'token', 'list', '--all'], { cwd: dir.path });
    expect(all.stdout).toMatch(new RegExp(`${id}\\s+revoked`));
  }, 60_000);

  it('creates a full feed (the CLI acts as an admin) and refuses an unknown privacy level or practitioner', async () => {
    const full = await runCliInProcess(
      ['ical', 'token', 'create', '--practice', 'cab-cli', '--privacy', 'full'],
      {
        cwd: dir.path,
      },
    );
    expect(full.code).toBe(0);
    expect(full.stderr).toContain('(privacy full)');
    const bad = await runCliInProcess(
      ['ical', 'token', 'create', '--practice', 'cab-cli', '--privacy', 'secret'],
      {
        cwd: dir.path,
      },
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("argument 'secret' is invalid");
    const unknown = await runCliInProcess(
      ['ical', 'token', 'create', '--practice', 'cab-cli', '--practitioner', 'pr-nobody'],
      { cwd: dir.path },
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'passerelle: practitionerId: no practitioner pr-nobody in practice cab-cli',
    );
  }, 60_000);
});
