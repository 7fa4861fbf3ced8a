/**
 * `npm start` on a machine where another program holds one of the demo's ports (issue 19): one
 * French line naming the port and PASSERELLE_HTTP_PORT, exit 1, nothing created.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { freePortRange } from '../../src/util/free-port.js';
import { runCliInProcess } from '../helpers/cli.js';
import { holdPort } from '../helpers/held-port.js';
import { tempDir } from '../helpers/stores.js';

describe('the demo on busy ports', () => {
  let holder: Server;
  let held: number;
  const dir = tempDir('passerelle-demo-ports-');

  beforeAll(async () => {
    // Nine free neighbours below the kernel's range for outgoing connections: the held port's
    // three lower and five upper neighbours must stay free for the demo to name the held one
    // (a port taken by a kernel-chosen listen(0) let an outgoing connection take held - 3 on CI).
    ({ server: holder, port: held } = await holdPort((await freePortRange(9)) + 3));
  });
  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
    dir.remove();
  });

  const start = (httpPort: number) =>
    runCliInProcess(['serve', '--demo'], {
      cwd: dir.path,
      env: { PASSERELLE_HTTP_PORT: String(httpPort), PASSERELLE_DEMO_DIR: join(dir.path, 'demo') },
    });

  it("names passerelle's own port when it is taken, and how to move the demo, in French", async () => {
    const r = await start(held);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `passerelle: le port ${held} est déjà pris sur 127.0.0.1 (par un autre programme, ou une démonstration déjà lancée) ; ` +
        `la démonstration utilise les ports ${held} à ${held + 5} : lancez-la sur d'autres ports avec PASSERELLE_HTTP_PORT, ` +
        'par exemple PASSERELLE_HTTP_PORT=9000 npm start (ports 9000 à 9005), ou PASSERELLE_HTTP_PORT=0 npm start (des ports libres au hasard)\n',
    );
    expect(existsSync(join(dir.path, 'demo'))).toBe(false);
  });

  it("names a simulator's port (passerelle's + 1…5) when that one is taken, before starting anything", async () => {
    const r = await start(held - 3);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`le port ${held} est déjà pris`);
    expect(r.stderr).toContain(`les ports ${held - 3} à ${held + 2}`);
    expect(r.stderr).toContain('PASSERELLE_HTTP_PORT=9000 npm start');
    expect(existsSync(join(dir.path, 'demo'))).toBe(false);
  });
});
