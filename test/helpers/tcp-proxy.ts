/**
 * A TCP proxy in front of a real server (PostgreSQL in the cluster fault tests): `cut()` drops
 * every connection and refuses new ones (the server restarted, a link down), `stall()` keeps
 * connections open but stops moving bytes (a network partition: nobody notices until a
 * timeout), `restore()` lets traffic through again. The real server is never touched.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'cut' | 'stall';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private mode: ProxyMode = 'pass';
  /** Connections accepted since the proxy started (reconnections show up here). */
  accepted = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `url` with its host and port replaced by the proxy's. */
  urlThrough(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'cut') {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.mode === 'stall') this.pause(pair);
  }

  private pause([a, b]: [net.Socket, net.Socket]): void {
    a.unpipe(b);
    b.unpipe(a);
    a.pause();
    b.pause();
  }

  /** Drops every connection now and refuses new ones until `restore()`. */
  cut(): void {
    this.mode = 'cut';
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
  }

  /** Connections stay open, bytes stop moving (both ways), new connections too. */
  stall(): void {
    this.mode = 'stall';
    for (const pair of this.pairs) this.pause(pair);
  }

  /**
   * Traffic flows again. After a stall, the stalled connections are dropped rather than
   * resumed (what a partition that outlived TCP timeouts leaves): clients reconnect.
   */
  restore(): void {
    const wasStalled = this.mode === 'stall';
    this.mode = 'pass';
    if (wasStalled)
      for (const [a, b] of [...this.pairs]) {
        a.destroy();
        b.destroy();
      }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
