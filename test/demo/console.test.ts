/** The demo's console stays French: what it says of the service's warnings and errors (issue 19). */
import { describe, expect, it } from '@jest/globals';

import { consoleLineOf } from '../../src/demo/console.js';

const LOG = '/tmp/demo/passerelle.log';

describe("the demo console's line for a logged warning", () => {
  it('notes the keys a first start creates, in French, as part of a normal start', () => {
    expect(
      consoleLineOf(
        {
          level: 'warn',
          message: 'generated an encryption key; set security.encryptionKey in production',
          keyFile: '/tmp/demo/secret.key',
        },
        LOG,
      ),
    ).toEqual({
      kind: 'note',
      text: 'clé de chiffrement des identifiants créée pour la démonstration : /tmp/demo/secret.key (en production : security.encryptionKey)',
    });
    expect(
      consoleLineOf(
        {
          level: 'warn',
          message:
            'generated an audit key; keep it out of the store and its backups, set audit.key in production',
          keyPath: '/tmp/demo/audit.key',
        },
        LOG,
      ),
    ).toEqual({
      kind: 'note',
      text: "clé du journal d'audit créée pour la démonstration : /tmp/demo/audit.key (en production : audit.key)",
    });
  });

  it('turns any other warning or error into one French line pointing at the JSON in the log file', () => {
    expect(
      consoleLineOf({ level: 'warn', message: 'demo event failed', action: 'hl7:agent.book' }, LOG),
    ).toEqual({
      kind: 'warning',
      text: `attention : une action de la démonstration a échoué (hl7:agent.book) ; détails dans ${LOG}`,
    });
    expect(consoleLineOf({ level: 'error', message: 'request failed' }, LOG)).toEqual({
      kind: 'warning',
      text: `attention : erreur de passerelle (« request failed ») ; détails dans ${LOG}`,
    });
  });

  it('keeps a scheduled run skipped while the previous one runs (busy machine) in the log file only', () => {
    expect(
      consoleLineOf(
        {
          level: 'warn',
          message: 'node-cron',
          detail: 'task still running, new execution blocked by overlap prevention!',
        },
        LOG,
      ),
    ).toBeUndefined();
  });
});
