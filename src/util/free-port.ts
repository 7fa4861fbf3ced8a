import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Ports below this are left alone (well-known and registered services people run locally). */
const LOWEST = 10_000;

/**
 * The first port the kernel hands to outgoing connections (Linux: ip_local_port_range; 32768
 * elsewhere or when unreadable). A port the kernel chose with `listen(0)` lies in that range, so
 * between our check and our bind any outgoing connection on the machine may take it as its local
 * port (EADDRINUSE, seen with several test workers). Ports below it are only ever bound on purpose.
 */
export function ephemeralFloor(
  read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
): number {
  try {
    const low = Number(read().trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1_000 && low <= 65_535 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port free right now on 127.0.0.1, for a peer that must keep the same port across
 * restarts (the demo's simulators, the e2e world's passerelle): drawn at random below the
 * kernel's range for outgoing connections, so that none of them can take it before it is bound.
 * Another process binding ports on purpose still may: callers bind it at once.
 */
export async function freePort(): Promise<number> {
  const floor = ephemeralFloor();
  for (let i = 0; i < 50; i++) {
    const port = randomInt(LOWEST, floor);
    if (await canListen(port)) return port;
  }
  return kernelPort();
}

/**
 * `count` consecutive ports free right now on 127.0.0.1, returned as the first of them: for a
 * program that binds a port and its neighbours (the demo: passerelle + 5 simulators; a cluster's
 * link ports). Drawn below the kernel's range for outgoing connections like {@link freePort}.
 */
export async function freePortRange(count: number): Promise<number> {
  const floor = ephemeralFloor();
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = randomInt(LOWEST, floor - count);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await canListen(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found below ${floor}`);
}
