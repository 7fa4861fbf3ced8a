/**
 * Interoperability with an HL7 implementation nobody here wrote: Debian's python3-hl7
 * (`mllp_send`, python-hl7 0.4) sends the fixtures to our listener, and its own parser reads
 * our ACKs back. .ci/run installs python3-hl7 when it is missing.
 *
 * `mllp_send --loose` splits a file on `MSH|^~\&|` and turns LF / CRLF into CR, so the
 * custom-delimiter fixture (MSH!@%$#) cannot go through it; every other fixture does.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { MllpDecoder } from '../../../src/hl7/framing.js';
import {
  controlIdOf,
  hl7Fixture,
  hl7FixtureNames,
  type Hl7LinkHarness,
  listenConfig,
  parseAck,
  startHl7Link,
  withControlId,
  withField,
} from '../../helpers/hl7.js';
import { tempDir } from '../../helpers/stores.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const MLLP_SEND = '/usr/bin/mllp_send';

function blocks(bytes: Buffer): Buffer[] {
  return new MllpDecoder({ maxMessageBytes: 1 << 20 })
    .push(bytes)
    .filter((e) => e.type === 'message')
    .map((e) => (e as { payload: Buffer }).payload);
}

/** python-hl7 parses each ACK and prints MSH-9, MSA-1, MSA-2 and "ERR-3.1 at ERR-2.1-ERR-2.3" as JSON. */
async function readWithPythonHl7(
  acks: Buffer[],
): Promise<{ type: string; code: string; controlId: string; err: string }[]> {
  const script = [
    'import sys, json, hl7',
    'out = []',
    'for raw in sys.stdin.buffer.read().split(b"\\x00"):',
    '    if not raw: continue',
    '    m = hl7.parse(raw.decode("latin-1"))',
    '    msa = m.segment("MSA")',
    '    err = [s for s in m if str(s[0]) == "ERR"]',
    '    out.append({"type": str(m.segment("MSH")[9]), "code": str(msa[1]), "controlId": str(msa[2]), "err": (str(err[0][3][0][0]) + " at " + str(err[0][2][0][0]) + "-" + str(err[0][2][0][2])) if err else ""})',
    'print(json.dumps(out))',
  ].join('\n');
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', script], { encoding: 'utf8' }, (e, so) =>
      e ? reject(e) : resolve({ stdout: so }),
    );
    child.stdin?.end(Buffer.concat(acks.flatMap((a) => [a, Buffer.from([0])])));
  });
  return JSON.parse(stdout) as { type: string; code: string; controlId: string; err: string }[];
}

describe('interoperability with python-hl7 mllp_send', () => {
  let h: Hl7LinkHarness;
  const dir = tempDir('passerelle-hl7-interop-');
  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig() });
  });
  afterAll(async () => {
    await h.dispose();
    dir.remove();
  });

  it('accepts every fixture mllp_send sends in one session and answers each with an ACK python-hl7 parses', async () => {
    const names = hl7FixtureNames().filter((n) => !n.includes('custom-delimiters'));
    const fixtures = names.map((n) => hl7Fixture(n));
    const file = join(dir.path, 'all.hl7');
    writeFileSync(file, Buffer.concat(fixtures.map((f) => Buffer.concat([f, Buffer.from('\r')]))));
    const { stdout } = await run(
      PYTHON,
      [MLLP_SEND, '--loose', '-p', String(h.port), '-f', file, '127.0.0.1'],
      { encoding: 'buffer', timeout: 30_000 },
    );
    const acks = blocks(stdout);
    expect(acks).toHaveLength(fixtures.length);
    const ours = acks.map(parseAck);
    const expected = fixtures.map((f) => controlIdOf(f));
    expect(ours.map((a) => a.acknowledges)).toEqual(expected);
    // Every fixture but the v2.3 one asks for enhanced mode AL/NE (IHE PAM France): CA; v2.3: AA.
    expect(ours.map((a) => a.code)).toEqual(names.map((n) => (n.includes('v23') ? 'AA' : 'CA')));
    const theirs = await readWithPythonHl7(acks);
    expect(theirs.map((t) => [t.code, t.controlId])).toEqual(ours.map((a) => [a.code, a.acknowledges]));
    expect(theirs.every((t) => t.type.startsWith('ACK^'))).toBe(true);
    const stored = await h.store.inbox.list({ linkId: h.link.id, limit: 1000 });
    for (const id of expected) expect(stored.some((e) => e.dedupeKey.endsWith(`|${id}`))).toBe(true);
  });

  it('answers AE with an ERR segment python-hl7 reads, for an original-mode message missing a required field', async () => {
    const bad = withField(
      withField(
        withField(withControlId(hl7Fixture('siu-s12-new-appointment'), 'PY-AE-1'), 'MSH', 15, ''),
        'MSH',
        16,
        '',
      ),
      'SCH',
      2,
      '',
    );
    const file = join(dir.path, 'bad.hl7');
    writeFileSync(file, bad);
    const { stdout } = await run(
      PYTHON,
      [MLLP_SEND, '--loose', '-p', String(h.port), '-f', file, '127.0.0.1'],
      { encoding: 'buffer', timeout: 30_000 },
    );
    const [theirs] = await readWithPythonHl7(blocks(stdout));
    expect(theirs).toEqual({ type: 'ACK^S12^ACK', code: 'AE', controlId: 'PY-AE-1', err: '101 at SCH-2' });
  });
});
