/**
 * Child process for test/bench/hl7-ingest.bench.ts (forked with `--import tsx`): `clients` MLLP connections to
 * 127.0.0.1:`port`, each sending the SIU^S12 fixture with a unique MSH-10 (and, unless
 * `sameAppointment`, a unique SCH-2: every message books a new appointment), waiting for each
 * ACK before the next message (HL7 v2.5.1 §2.9.2), for `warmupMs` then `durationMs`. Runs in
 * its own process so the clients do not share the listener's event loop. Input and result go
 * through the IPC channel.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

import { withControlId, withField } from '../../connectors/hl7v2/simulator/messages.js';
import { encodeFrame, MllpDecoder } from '../../src/hl7/framing.js';

export interface BenchClientsInput {
  readonly port: number;
  readonly clients: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The message, base64. */
  readonly message: string;
  readonly prefix: string;
  readonly sameAppointment: boolean;
}

export interface BenchClientsOutput {
  readonly messages: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly negative: number;
  /** Every message answered, warm-up included (for CPU time per message). */
  readonly answered: number;
  /** The clients' own CPU time (user + system, µs) over the whole run, warm-up included. */
  readonly cpuUs?: number;
}

async function main(input: BenchClientsInput): Promise<BenchClientsOutput> {
  const base = Buffer.from(input.message, 'base64');
  let counter = 0;
  const start = performance.now();
  const measureFrom = start + input.warmupMs;
  const end = measureFrom + input.durationMs;
  let messages = 0;
  let negative = 0;
  let answered = 0;
  const latencies: number[] = [];
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: input.port });
      socket.setNoDelay(true);
      const decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
      let sentAt = 0;
      const next = () => {
        if (performance.now() >= end) {
          socket.end();
          return;
        }
        const n = ++counter;
        let m = withControlId(base, `${input.prefix}-${i}-${n}`);
        if (!input.sameAppointment) m = withField(m, 'SCH', 2, `B${input.prefix}${n}^LOGICIEL-CABINET`);
        sentAt = performance.now();
        socket.write(encodeFrame(m));
      };
      socket.on('connect', next);
      socket.on('data', (chunk: Buffer) => {
        for (const e of decoder.push(chunk)) {
          if (e.type !== 'message') continue;
          const now = performance.now();
          answered++;
          if (now >= measureFrom && now < end) {
            messages++;
            latencies.push(now - sentAt);
            if (!/MSA\|[AC]A\|/.test(e.payload.toString('latin1'))) negative++;
          }
          next();
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: input.clients }, (_, i) => one(i)));
  const cpu = process.cpuUsage(cpuBefore);
  return {
    messages,
    seconds: input.durationMs / 1000,
    latenciesMs: latencies,
    negative,
    answered,
    cpuUs: cpu.user + cpu.system,
  };
}

if (process.send) {
  process.once('message', (input: BenchClientsInput) => {
    main(input).then(
      (r) => process.send?.(r, () => process.exit(0)),
      (e: unknown) => process.send?.({ error: String(e) }, () => process.exit(1)),
    );
  });
}
