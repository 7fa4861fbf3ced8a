/**
 * The file drop on real folders with the real engine (SQLite): inbound files with one or many
 * messages and any line ending, files still being written, processed/ and error/ with a reason
 * file, a store outage; outbound files written through a temp file and a rename.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { FileReport } from '../../../../connectors/hl7v2/file-drop/watcher.js';
import { Hl7Simulator, relineBytes } from '../../../../connectors/hl7v2/simulator/index.js';
import type { InboundHandler } from '../../../../src/connector/contract.js';
import { PasserelleError } from '../../../../src/errors.js';
import { parseHl7 } from '../../../../src/hl7/index.js';
import type { Appointment } from '../../../../src/model/resources.js';
import {
  controlIdOf,
  hl7Fixture,
  type Hl7LinkHarness,
  startHl7Link,
  withControlId,
} from '../../../helpers/hl7.js';
import { tempDir } from '../../../helpers/stores.js';
import { until } from '../../../helpers/until.js';

const S12 = hl7Fixture('siu-s12-new-appointment');
const S17 = hl7Fixture('siu-s17-delete-v23');
const A28 = hl7Fixture('adt-a28-create');

describe('file drop', () => {
  const dir = tempDir('passerelle-hl7-files-');
  const inbound = join(dir.path, 'in');
  const outbound = join(dir.path, 'out');
  const reports: FileReport[] = [];
  const wakeReports: (() => void)[] = [];
  let failNext = 0;
  let h: Hl7LinkHarness;
  let sim: Hl7Simulator;

  /** Resolves with the report of the file `name` (the n-th one with that name). */
  async function reportFor(name: string, nth = 1, timeoutMs = 10_000): Promise<FileReport> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = reports.filter((r) => r.name === name)[nth - 1];
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no report for ${name} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        wakeReports.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async function polls(n: number): Promise<void> {
    const w = h.connector.fileWatcher;
    if (!w) throw new Error('no watcher');
    const target = w.polls + n;
    await until('the watcher to poll', () => w.polls >= target, 10_000, { everyMs: 10 });
  }

  const stored = async (controlId: string) =>
    (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).filter((e) =>
      e.dedupeKey.endsWith(`|${controlId}`),
    );

  beforeAll(async () => {
    const wrapHandler =
      (handler: InboundHandler): InboundHandler =>
      async (message) => {
        if (failNext > 0) {
          failNext--;
          throw new PasserelleError('ERR_STORE_UNAVAILABLE', 'store down (test)');
        }
        return handler(message);
      };
    h = await startHl7Link({
      config: { fileDrop: { inbound, outbound, pollMs: 20, settleMs: 50 } },
      wrapHandler,
      connectorOptions: {
        onFile: (_linkId, report) => {
          reports.push(report);
          for (const w of wakeReports.splice(0)) w();
        },
      },
    });
    sim = await Hl7Simulator.start();
  });
  afterAll(async () => {
    await h.dispose();
    await sim.close();
    dir.remove();
  });

  it('takes a file with one message, applies it and moves the file to processed/', async () => {
    const [name] = await sim.dropFiles(inbound, [withControlId(S12, 'FILE-ONE')], { prefix: 'one' });
    const report = await reportFor(name as string);
    expect(report.movedTo).toBe('processed');
    expect(report.messages.map((m) => [m.controlId, m.status])).toEqual([['FILE-ONE', 'applied']]);
    expect(existsSync(join(inbound, 'processed', name as string))).toBe(true);
    expect(existsSync(join(inbound, name as string))).toBe(false);
    expect((await stored('FILE-ONE'))[0]?.body?.equals(withControlId(S12, 'FILE-ONE'))).toBe(true);
  });

  it.each([['\r'], ['\n'], ['\r\n']] as const)(
    'takes several messages per file with %j after each segment, each stored byte for byte',
    async (ending) => {
      const tag = JSON.stringify(ending).replace(/\W/g, '');
      const messages = [
        withControlId(S12, `MULTI-${tag}-1`),
        withControlId(A28, `MULTI-${tag}-2`),
        withControlId(S17, `MULTI-${tag}-3`),
      ];
      const [name] = await sim.dropFiles(inbound, messages, {
        perFile: 3,
        lineEnding: ending,
        prefix: `multi-${tag}`,
      });
      const report = await reportFor(name as string);
      expect(report.movedTo).toBe('processed');
      expect(report.messages.map((m) => m.controlId)).toEqual([
        `MULTI-${tag}-1`,
        `MULTI-${tag}-2`,
        `MULTI-${tag}-3`,
      ]);
      for (const [i, m] of messages.entries()) {
        const entry = (await stored(`MULTI-${tag}-${i + 1}`))[0];
        expect(entry?.body?.equals(relineBytes(m, ending))).toBe(true);
      }
    },
  );

  it('ignores a file while it is being written, and takes it whole once complete', async () => {
    const name = 'partial.hl7';
    const full = withControlId(S12, 'PARTIAL-1');
    const cut = full.indexOf('PID|') + 20; // in the middle of a segment
    writeFileSync(join(inbound, name), full.subarray(0, cut));
    await polls(5);
    appendFileSync(join(inbound, name), full.subarray(cut, full.length - 300));
    await polls(5);
    expect(reports.some((r) => r.name === name)).toBe(false);
    expect(existsSync(join(inbound, name))).toBe(true);
    appendFileSync(join(inbound, name), full.subarray(full.length - 300));
    const report = await reportFor(name);
    expect(report.messages.map((m) => m.status)).toEqual(['applied']);
    expect((await stored('PARTIAL-1'))[0]?.body?.equals(full)).toBe(true);
  });

  it('moves a file with a broken message to error/ with a reason file; its good messages are applied, the broken one dead-lettered', async () => {
    const broken = Buffer.concat([withControlId(S17, 'BAD-IN-FILE'), Buffer.from('not a segment\r')]);
    const [name] = await sim.dropFiles(inbound, [withControlId(A28, 'GOOD-IN-FILE'), broken], {
      perFile: 2,
      prefix: 'mixed',
    });
    const report = await reportFor(name as string);
    expect(report.movedTo).toBe('error');
    const reason = JSON.parse(readFileSync(join(inbound, 'error', `${name}.reason.json`), 'utf8')) as {
      messages: { controlId: string; status: string; code: string | null; error: string | null }[];
    };
    expect(reason.messages.map((m) => [m.controlId, m.status, m.code])).toEqual([
      ['GOOD-IN-FILE', 'applied', null],
      ['BAD-IN-FILE', 'invalid', 'ERR_HL7_PARSE'],
    ]);
    expect(reason.messages[1]?.error).toMatch(/^segment 7: expected a segment name/);
    expect(existsSync(join(inbound, 'error', name as string))).toBe(true);
    const dl = await h.store.deadLetters.list({ linkId: h.link.id });
    expect(dl.some((d) => d.reasonCode === 'ERR_HL7_PARSE')).toBe(true);
  });

  it('moves a file holding no HL7 message to error/ with ERR_FILEDROP_NO_MESSAGE', async () => {
    writeFileSync(join(inbound, 'notes.txt'), 'rappeler le cabinet\n');
    const report = await reportFor('notes.txt');
    expect(report.movedTo).toBe('error');
    expect(report.reason).toMatch(/^ERR_FILEDROP_NO_MESSAGE/);
    expect(JSON.parse(readFileSync(join(inbound, 'error', 'notes.txt.reason.json'), 'utf8')).reason).toMatch(
      /no HL7 message/,
    );
  });

  it('takes a file dropped twice as resends: processed again under another name, applied once', async () => {
    const msg = withControlId(A28, 'TWICE-1');
    await sim.dropFiles(inbound, [msg], { prefix: 'twice' });
    await reportFor('twice-000001.hl7');
    await sim.dropFiles(inbound, [msg], { prefix: 'twice' });
    const second = await reportFor('twice-000001.hl7', 2);
    expect(second.movedTo).toBe('processed');
    expect(second.messages.map((m) => m.status)).toEqual(['duplicate']);
    expect(readdirSync(join(inbound, 'processed')).filter((n) => n.startsWith('twice-'))).toEqual([
      'twice-000001.hl7',
      'twice-000001.hl7.1',
    ]);
    expect(await stored('TWICE-1')).toHaveLength(1);
  });

  it('leaves a file in place when a message cannot be committed, and takes it at a later poll', async () => {
    failNext = 1;
    const [name] = await sim.dropFiles(
      inbound,
      [withControlId(S17, 'OUTAGE-1'), withControlId(A28, 'OUTAGE-2')],
      { perFile: 2, prefix: 'outage' },
    );
    const first = await reportFor(name as string);
    expect(first.movedTo).toBe('left');
    expect(first.messages.map((m) => m.status)).toEqual(['unavailable']);
    const second = await reportFor(name as string, 2);
    expect(second.movedTo).toBe('processed');
    expect(second.messages.map((m) => [m.controlId, m.status])).toEqual([
      ['OUTAGE-1', 'applied'],
      ['OUTAGE-2', 'applied'],
    ]);
  });

  it('writes outbound messages through a temp file and a rename, one file per change, named by sequence and MSH-10', async () => {
    const data: Appointment = {
      resourceType: 'Appointment',
      id: 'appt-file',
      status: 'booked',
      start: '2026-12-01T08:30:00Z',
      participant: [{ actor: { reference: 'Practitioner/819999900012' }, status: 'accepted' }],
    };
    const result = await h.connector.push({
      seq: 42,
      op: 'upsert',
      kind: 'Appointment',
      canonicalId: 'appt-file',
      externalId: null,
      expectedVersion: null,
      data,
      base: null,
      idempotencyKey: 'file-key',
      priority: 5,
    });
    expect(result).toEqual({ ok: true, externalId: 'appt-file' });
    const files = readdirSync(outbound);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^000000000042-P[0-9A-F]{19}\.hl7$/);
    const msg = parseHl7(readFileSync(join(outbound, files[0] as string)));
    expect([msg.header.messageType, msg.header.controlId, msg.get('SCH-1')]).toEqual([
      'SIU^S12',
      controlIdOf(readFileSync(join(outbound, files[0] as string))),
      'appt-file',
    ]);
    // The practice software's side: the simulator in folder mode collects it.
    const collector = await Hl7Simulator.start({ collectFrom: outbound, pollMs: 20 });
    try {
      const [got] = await collector.waitForMessages(1);
      expect([got?.via, got?.messageType]).toEqual(['file', 'SIU^S12']);
      expect(readdirSync(outbound)).toEqual([]);
    } finally {
      await collector.close();
    }
  });
});
