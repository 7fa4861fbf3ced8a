import net from 'node:net';

/**
 * A TCP port free right now on 127.0.0.1, for a peer that must keep the same port across
 * restarts (the demo's simulators, the e2e world's passerelle). Another process may take it
 * before it is used: callers bind it at once.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
