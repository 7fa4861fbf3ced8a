import net from 'node:net';

import { describe, expect, it } from '@jest/globals';

import { ephemeralFloor, freePort, freePortRange } from '../../src/util/free-port.js';

describe('freePort', () => {
  it('gives a port below the range the kernel hands to outgoing connections, which can be bound', async () => {
    const floor = ephemeralFloor();
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(10_000);
    expect(port).toBeLessThan(floor);
    const s = net.createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('reads the floor from the kernel’s port range, and falls back to 32768 when it cannot', () => {
    expect(ephemeralFloor(() => '40000\t60999\n')).toBe(40_000);
    expect(ephemeralFloor(() => 'garbage')).toBe(32_768);
    expect(ephemeralFloor(() => '1024 65535')).toBe(32_768);
    expect(
      ephemeralFloor(() => {
        throw new Error('no /proc');
      }),
    ).toBe(32_768);
  });

  it('gives consecutive ports below the kernel’s range that can all be bound together', async () => {
    const base = await freePortRange(6);
    expect(base).toBeGreaterThanOrEqual(10_000);
    expect(base + 5).toBeLessThan(ephemeralFloor());
    const servers = Array.from({ length: 6 }, () => net.createServer());
    await Promise.all(
      servers.map(
        (s, i) =>
          new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.listen(base + i, '127.0.0.1', () => resolve());
          }),
      ),
    );
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
});
