import { createServer, type Server } from 'node:net';

import { freePort } from '../../src/util/free-port.js';

/**
 * A server bound on a port below the kernel's range for outgoing connections, to stand for
 * "another program holds this port". A port from listen(0) would do while held, but once the test
 * releases it for passerelle to bind, any outgoing connection on the machine may take it first.
 */
export async function holdPort(port?: number): Promise<{ readonly server: Server; readonly port: number }> {
  const chosen = port ?? (await freePort());
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(chosen, '127.0.0.1', () => resolve());
  });
  return { server, port: chosen };
}
