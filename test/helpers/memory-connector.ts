/**
 * A test-only connector whose peer lives in memory: it plays the secretariat platform or the
 * practice software of a practice, with its own ids, versions and change feed. It behaves like
 * the real peers the contract describes (src/connector/contract.ts): creates on `externalId: null`,
 * refuses a stale `If-Match` with its current record (HTTP 412), applies a retried change once
 * per idempotency key, answers pulls since a cursor (optionally with an overlap window), and
 * pushes its own changes to the engine through a receiver, with a dedupe key per delivery.
 * It records every push it receives, so tests can count echo writes and second creations; it
 * can be made unreachable or lose responses after applying.
 *
 * The peer outlives the connector objects (the runtime creates a new one on each restart), as a
 * remote system outlives passerelle's process.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

import { z } from 'zod';

import type {
  Connector,
  ConnectorDefinition,
  ExternalRecord,
  InboundHandler,
  InboundMessage,
  IngestResult,
  OutboundChange,
  PushResult,
} from '../../src/connector/contract.js';
import { PasserelleError } from '../../src/errors.js';
import { fieldsHash } from '../../src/model/fields.js';
import type { CanonicalResource, ResourceKind } from '../../src/model/resources.js';
import { RESOURCE_KINDS } from '../../src/model/resources.js';

export interface PeerRecord {
  readonly kind: ResourceKind;
  readonly id: string;
  data: CanonicalResource;
  version: number;
  /** Position in the change feed. */
  seq: number;
  deleted: boolean;
}

export interface ReceivedPush {
  readonly change: OutboundChange;
  /** What the push did: wrote, answered from the idempotency cache, refused, or failed. */
  readonly effect:
    'created' | 'updated' | 'rejected-booking' | 'replayed' | 'stale' | 'unreachable' | 'failed';
  /** The write stored exactly what the peer already held (an echo write). */
  readonly echo: boolean;
}

export type PeerFailure = {
  readonly code: 'ERR_CONNECTOR_UNAVAILABLE' | 'ERR_CONNECTOR_REJECTED';
  readonly retryAfterSeconds?: number;
};

export class MemoryPeer {
  readonly records = new Map<string, PeerRecord>();
  readonly pushes: ReceivedPush[] = [];
  readonly rejects: { externalId: string; reason: { code: string; message: string } }[] = [];
  /** idempotency key → the result given, so a retried change is applied once. */
  private readonly results = new Map<string, PushResult>();
  /** idempotency key → how many times it created a record. */
  readonly creations = new Map<string, number>();
  reachable = true;
  /** The next N pushes find the peer unreachable, then it is back (it comes back mid-batch). */
  unreachableFor = 0;
  /** Apply the next N pushes but lose the answer (a connection reset after the peer committed). */
  dropResponses = 0;
  /** Fail every push with this error until cleared (a peer-side bug, a validation refusal). */
  failPushes: PeerFailure | undefined;
  /** How many feed positions a pull re-sends before the cursor (design rule 5's overlap window). */
  overlap = 0;
  /** A broken peer: answers every update with 412 and its current record, whatever the version. */
  brokenIfMatch = false;
  /** A slow peer: each pull takes this long. */
  pullDelayMs = 0;
  /** A slow peer: each push takes this long. */
  pushDelayMs = 0;
  activePulls = 0;
  maxActivePulls = 0;
  pulls = 0;
  private seq = 0;
  private counter = 0;
  private deliveries = 0;
  handler: InboundHandler | undefined;
  private delivered = 0;
  private lastDelivery: InboundMessage | undefined;

  constructor(readonly name: string) {}

  // ------------------------------------------------------------------ the peer's own users

  create(data: CanonicalResource, id?: string): string {
    const externalId = id ?? `${this.name}-${++this.counter}`;
    this.records.set(externalId, {
      kind: data.resourceType,
      id: externalId,
      data: { ...structuredClone(data), id: externalId } as CanonicalResource,
      version: 1,
      seq: ++this.seq,
      deleted: false,
    });
    return externalId;
  }

  edit<T extends CanonicalResource>(id: string, change: (data: T) => T): void {
    const r = this.require(id);
    r.data = { ...change(structuredClone(r.data) as T), id } as CanonicalResource;
    r.version++;
    r.seq = ++this.seq;
  }

  delete(id: string): void {
    const r = this.require(id);
    r.deleted = true;
    r.version++;
    r.seq = ++this.seq;
  }

  get<T extends CanonicalResource>(id: string): T {
    return this.require(id).data as T;
  }

  /** Records of `kind` not deleted. */
  list<T extends CanonicalResource>(kind: ResourceKind): T[] {
    return [...this.records.values()].filter((r) => r.kind === kind && !r.deleted).map((r) => r.data as T);
  }

  require(id: string): PeerRecord {
    const r = this.records.get(id);
    if (!r) throw new Error(`${this.name} has no record ${id}`);
    return r;
  }

  toExternal(r: PeerRecord): ExternalRecord {
    return {
      kind: r.kind,
      externalId: r.id,
      version: String(r.version),
      data: structuredClone(r.data),
      ...(r.deleted && { deleted: true }),
    };
  }

  /** Writes the engine made that changed nothing on this peer. */
  echoWrites(): ReceivedPush[] {
    return this.pushes.filter((p) => p.echo);
  }

  /** Idempotency keys that created a record more than once (must never happen). */
  duplicateCreations(): string[] {
    return [...this.creations].filter(([, n]) => n > 1).map(([k]) => k);
  }

  /** Sends the last delivery again, same key and body: a webhook retried by the peer. */
  async redeliver(): Promise<IngestResult | undefined> {
    if (!this.handler || !this.lastDelivery) return undefined;
    return this.handler(this.lastDelivery);
  }

  /**
   * Sends the records changed since the last delivery (or `ids`) to the engine through the
   * receiver, as one message with its own dedupe key, and resolves with the engine's answer.
   */
  async deliver(options: { ids?: readonly string[]; key?: string } = {}): Promise<IngestResult> {
    if (!this.handler) throw new Error(`${this.name} has no receiver started`);
    const records = options.ids
      ? options.ids.map((id) => this.require(id))
      : [...this.records.values()].filter((r) => r.seq > this.delivered).sort((a, b) => a.seq - b.seq);
    this.delivered = Math.max(this.delivered, ...records.map((r) => r.seq));
    const body = Buffer.from(JSON.stringify(records.map((r) => this.toExternal(r))));
    const key = options.key ?? `${this.name}-delivery-${++this.deliveries}`;
    this.lastDelivery = {
      dedupe: {
        key,
        bodyHash: createHash('sha256').update(body).digest('hex'),
        messageType: 'memory.changes',
        body,
      },
      records: records.map((r) => this.toExternal(r)),
    };
    return this.handler(this.lastDelivery);
  }

  // ------------------------------------------------------------------ what the engine calls

  pull(
    cursor: string | null,
    limit: number,
  ): { records: ExternalRecord[]; next: string | null; hasMore: boolean } {
    if (!this.reachable)
      throw new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', `${this.name} is unreachable`);
    const after = Math.max(0, Number(cursor ?? 0) - this.overlap);
    const changed = [...this.records.values()].filter((r) => r.seq > after).sort((a, b) => a.seq - b.seq);
    const page = changed.slice(0, limit);
    const last = page.at(-1)?.seq;
    return {
      records: page.map((r) => this.toExternal(r)),
      next: last === undefined ? cursor : String(Math.max(last, Number(cursor ?? 0))),
      hasMore: changed.length > limit,
    };
  }

  push(change: OutboundChange): PushResult {
    const log = (effect: ReceivedPush['effect'], echo = false) =>
      this.pushes.push({ change: structuredClone(change), effect, echo });
    if (!this.reachable || this.unreachableFor > 0) {
      this.unreachableFor = Math.max(0, this.unreachableFor - 1);
      log('unreachable');
      return {
        ok: false,
        error: new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', `${this.name} is unreachable`),
      };
    }
    if (this.failPushes) {
      log('failed');
      const f = this.failPushes;
      return {
        ok: false,
        error: new PasserelleError(f.code, `${this.name} refused the change`, {
          ...(f.retryAfterSeconds !== undefined && { retryAfterSeconds: f.retryAfterSeconds }),
        }),
      };
    }
    const cached = this.results.get(change.idempotencyKey);
    if (cached) {
      log('replayed');
      return this.answer(cached);
    }
    let result: PushResult;
    if (change.op === 'reject') {
      const r = change.externalId ? this.records.get(change.externalId) : undefined;
      if (r && r.kind === 'Appointment') {
        r.data = { ...r.data, status: 'cancelled', comment: change.reason?.message } as CanonicalResource;
        r.version++;
        r.seq = ++this.seq;
      }
      this.rejects.push({
        externalId: change.externalId ?? '',
        reason: change.reason ?? { code: '', message: '' },
      });
      log('rejected-booking');
      result = { ok: true, externalId: change.externalId ?? '' };
    } else if (change.externalId === null) {
      const id = this.create(change.data);
      this.creations.set(change.idempotencyKey, (this.creations.get(change.idempotencyKey) ?? 0) + 1);
      log('created');
      result = { ok: true, externalId: id, version: '1' };
    } else {
      const r = this.records.get(change.externalId);
      if (!r) {
        log('failed');
        return {
          ok: false,
          error: new PasserelleError('ERR_CONNECTOR_REJECTED', `${this.name} has no such record`),
        };
      }
      if (
        this.brokenIfMatch ||
        (change.expectedVersion !== null && change.expectedVersion !== String(r.version))
      ) {
        log('stale');
        return {
          ok: false,
          error: new PasserelleError(
            'ERR_SYNC_CONFLICT',
            `${this.name}: version ${change.expectedVersion} is stale (412)`,
          ),
          current: this.toExternal(r),
        };
      }
      const echo = !r.deleted && fieldsHash(r.data) === fieldsHash(change.data);
      r.data = { ...structuredClone(change.data), id: r.id } as CanonicalResource;
      r.deleted = false;
      r.version++;
      r.seq = ++this.seq;
      log('updated', echo);
      result = { ok: true, externalId: r.id, version: String(r.version) };
    }
    this.results.set(change.idempotencyKey, result);
    return this.answer(result);
  }

  private answer(result: PushResult): PushResult {
    if (this.dropResponses > 0) {
      this.dropResponses--;
      throw new PasserelleError(
        'ERR_CONNECTOR_UNAVAILABLE',
        `${this.name}: connection reset before the answer`,
      );
    }
    return result;
  }
}

/** The peers of a test, by name; they survive runtime restarts. */
export class MemoryWorld {
  readonly peers = new Map<string, MemoryPeer>();

  peer(name: string): MemoryPeer {
    let p = this.peers.get(name);
    if (!p) {
      p = new MemoryPeer(name);
      this.peers.set(name, p);
    }
    return p;
  }
}

export const MemoryConfig = z.strictObject({
  /** Which peer of the world this link talks to. */
  peer: z.string().min(1),
});
export type MemoryConfig = z.infer<typeof MemoryConfig>;

/** HMAC-SHA256 over `id.timestamp.body`, as the secretariat contract signs webhooks. */
export function signDelivery(secret: string, id: string, timestamp: string, body: Buffer): string {
  return createHmac('sha256', secret).update(`${id}.${timestamp}.`).update(body).digest('hex');
}

export function memoryConnector(world: MemoryWorld): ConnectorDefinition<MemoryConfig> {
  return {
    name: 'memory',
    protocol: 'memory',
    configSchema: MemoryConfig,
    capabilities: { kinds: RESOURCE_KINDS, pull: true, receive: true, push: RESOURCE_KINDS },
    create(config, ctx): Connector {
      const peer = world.peer(config.peer);
      const secret =
        typeof ctx.secrets?.['webhookSecret'] === 'string' ? ctx.secrets['webhookSecret'] : undefined;
      return {
        async start(handler) {
          peer.handler = handler;
        },
        async pull(cursor, limit) {
          peer.pulls++;
          peer.activePulls++;
          peer.maxActivePulls = Math.max(peer.maxActivePulls, peer.activePulls);
          try {
            if (peer.pullDelayMs > 0) await new Promise((r) => setTimeout(r, peer.pullDelayMs));
            return peer.pull(cursor, limit);
          } finally {
            peer.activePulls--;
          }
        },
        async push(change) {
          if (peer.pushDelayMs > 0) await new Promise((r) => setTimeout(r, peer.pushDelayMs));
          return peer.push(change);
        },
        async receiveHttp(delivery, handler) {
          const id = delivery.headers['x-delivery-id'] ?? '';
          const timestamp = delivery.headers['x-timestamp'] ?? '';
          const signature = Buffer.from(delivery.headers['x-signature'] ?? '', 'hex');
          const expected = Buffer.from(
            secret ? signDelivery(secret, id, timestamp, delivery.body) : '',
            'hex',
          );
          if (!secret || signature.length !== expected.length || !timingSafeEqual(signature, expected))
            return { status: 401, body: { error: 'bad signature' } };
          const records = JSON.parse(delivery.body.toString('utf8')) as ExternalRecord[];
          const result = await handler({
            dedupe: {
              key: id,
              bodyHash: createHash('sha256').update(delivery.body).digest('hex'),
              messageType: 'memory.webhook',
              body: delivery.body,
            },
            records,
          });
          return { status: result.outcome === 'invalid' ? 422 : 200, body: { outcome: result.outcome } };
        },
        async health() {
          return { ok: peer.reachable, checks: [{ name: 'reachable', ok: peer.reachable }] };
        },
        async stop() {
          if (peer.handler) peer.handler = undefined;
        },
      };
    },
  };
}
