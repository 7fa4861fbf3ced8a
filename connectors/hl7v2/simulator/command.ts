/** `passerelle simulate hl7`: a practice-software peer over MLLP (or a drop folder). */
import type { ConnectorSimulator } from '../../../src/connector/contract.js';
import { PasserelleError } from '../../../src/errors.js';

export const hl7Simulator: ConnectorSimulator = {
  command: 'hl7',
  summary:
    'a practice-software peer over MLLP: records and acknowledges what passerelle sends; sends fixtures or a script to passerelle',
  options: [
    { flags: '--port <n>', description: 'port to listen on (0: any free port)', default: '0' },
    { flags: '--host <address>', description: 'address to listen on', default: '127.0.0.1' },
    {
      flags: '--answer <code>',
      description: 'acknowledgment code to answer with',
      choices: ['AA', 'AE', 'AR', 'CA', 'CE', 'CR'],
      default: 'AA',
    },
    { flags: '--drop-acks <n>', description: 'do not answer the next n messages', default: '0' },
    { flags: '--delay <ms>', description: 'wait before each answer', default: '0' },
    {
      flags: '--close-mid-frame <n>',
      description: 'for the next n messages, close the connection halfway through the ACK',
      default: '0',
    },
    { flags: '--send-to <host:port>', description: "passerelle's MLLP listener, for --send and --script" },
    { flags: '--send <files...>', description: 'HL7 files to send to --send-to, in order' },
    {
      flags: '--script <file>',
      description: 'script to run against --send-to (lines: "send <file> [xN]", "pause <ms>")',
    },
    {
      flags: '--drop-into <dir>',
      description: 'folder mode: write the --send files into this folder (temp file + rename) instead',
    },
    {
      flags: '--collect-from <dir>',
      description: 'folder mode: collect the files passerelle writes into this folder',
    },
  ],
  async run(raw, { out, started }) {
    const opts = raw as {
      port: string;
      host: string;
      answer: string;
      dropAcks: string;
      delay: string;
      closeMidFrame: string;
      sendTo?: string;
      send?: string[];
      script?: string;
      dropInto?: string;
      collectFrom?: string;
    };
    const int = (v: string, name: string, max = 65535) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > max)
        throw new PasserelleError('ERR_CLI_USAGE', `${name} must be a whole number 0-${max}, not ${v}`);
      return n;
    };
    const port = int(opts.port, '--port');
    const faults = {
      answer: opts.answer as 'AA',
      dropAcks: int(opts.dropAcks, '--drop-acks', 1e9),
      delayMs: int(opts.delay, '--delay', 3_600_000),
      closeMidFrame: int(opts.closeMidFrame, '--close-mid-frame', 1e9),
    };
    let target: { host: string; port: number } | undefined;
    if (opts.sendTo !== undefined) {
      const m = /^(.+):(\d+)$/.exec(opts.sendTo);
      if (!m) throw new PasserelleError('ERR_CLI_USAGE', `--send-to: expected host:port, not ${opts.sendTo}`);
      target = { host: m[1] as string, port: int(m[2] as string, '--send-to port') };
    }
    if ((opts.send || opts.script) && !target && !opts.dropInto)
      throw new PasserelleError(
        'ERR_CLI_USAGE',
        '--send and --script need --send-to (or --drop-into for --send)',
      );
    const { Hl7Simulator, parseScript } = await import('./index.js');
    const { readFileSync } = await import('node:fs');
    const sim = await Hl7Simulator.start({
      port,
      host: opts.host,
      faults,
      ...(opts.collectFrom && { collectFrom: opts.collectFrom }),
      onMessage: (m) =>
        out(
          `received ${m.messageType ?? '?'} MSH-10=${m.controlId ?? '?'} via ${m.via}${m.via === 'mllp' ? ` answered ${m.answered ?? 'nothing'}` : ''}`,
        ),
    });
    started(() => sim.close());
    out(
      `hl7 simulator listening on mllp://${sim.host}:${sim.port} (answer ${faults.answer})${opts.collectFrom ? `, collecting files from ${opts.collectFrom}` : ''}`,
    );
    const printSent = (s: { controlId: string | undefined; result: string }) =>
      out(`sent MSH-10=${s.controlId ?? '?'} -> ${s.result}`);
    if (opts.send && opts.dropInto) {
      const names = await sim.dropFiles(
        opts.dropInto,
        opts.send.map((f) => readFileSync(f)),
      );
      out(`dropped ${names.length} file(s) into ${opts.dropInto}`);
    } else if (opts.send && target) {
      for (const s of await sim.send(
        target,
        opts.send.map((f) => readFileSync(f)),
      ))
        printSent(s);
    }
    if (opts.script && target)
      await sim.runScript(target, parseScript(readFileSync(opts.script, 'utf8'), opts.script), printSent);
  },
};
