/**
 * The conformance suite every connector's simulator passes (design.md §Layout, issue 17): run
 * through the registry's definition only (config schema → create → the Connector contract),
 * against the connector's own simulator, so a new protocol proves the engine can rely on it
 * without reading its code.
 *
 * - paging: a pull since a cursor hands over what the peer's users did since, across several
 *   pages of `limit`, and the last page's cursor says there is nothing more;
 * - idempotent push: one change pushed twice with its idempotency key is one record there;
 * - cancel/delete: a removal change is applied on the peer;
 * - error classes: a transient failure of the peer is `retryable`, a change the peer refuses
 *   for good is not (the outbox retries the first, dead-letters the second at once);
 * - restart: a connector stopped and created again resumes from the stored cursor (nothing
 *   before it again, nothing after it lost);
 * - receive: for a connector with a receiver, a message the peer pushes reaches the handler
 *   with its records and a dedupe key, and the same message resent carries the same key (the
 *   inbox applies it once) and is acknowledged to the peer both times.
 *
 * A harness says which of these apply to its protocol (`covers`); what does not apply is listed
 * as skipped, not silently left out.
 */
import { describe, expect, it } from '@jest/globals';

import type {
  Connector,
  ConnectorContext,
  ExternalRecord,
  InboundHandler,
  InboundMessage,
  OutboundChange,
  PushResult,
} from '../../src/connector/contract.js';
import type { AnyConnectorDefinition } from '../../src/connector/registry.js';
import { silentLogger } from '../../src/log/logger.js';
import type { CanonicalResource, ResourceKind } from '../../src/model/resources.js';
import type { JsonObject, Link } from '../../src/store/types.js';

export type ConformanceCheck =
  'paging' | 'idempotent-push' | 'cancel' | 'error-classes' | 'restart' | 'receive';
export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  'paging',
  'idempotent-push',
  'cancel',
  'error-classes',
  'restart',
  'receive',
];

/** A change without the bookkeeping fields the suite fills in (seq, key, canonical id…). */
export type ChangeSpec = Pick<OutboundChange, 'kind' | 'data'> &
  Partial<Pick<OutboundChange, 'op' | 'externalId' | 'expectedVersion' | 'canonicalId' | 'related'>>;

/** One running simulator, as the suite drives it. */
export interface ConformancePeer {
  /** A link's config and credentials that reach this simulator (validated by the definition's schema). */
  readonly config: JsonObject;
  readonly secrets: JsonObject | null;
  /** The peer's own users create `n` records (what a pull must then hand over); their ids there. */
  seed(n: number): Promise<readonly string[]>;
  /** A change creating the `i`th new record on the peer. */
  creation(i: number): ChangeSpec;
  /** How many records of `kind` the peer holds. */
  count(kind: ResourceKind): Promise<number>;
  /** A removal (cancel or delete) of a record the peer holds, and how to see it applied there. */
  removal(connector: Connector): Promise<{ readonly change: ChangeSpec; removed(): Promise<boolean> }>;
  /** Makes the peer fail the next request transiently (5xx, dropped connection…). */
  failNextTransiently(): void;
  /** A change the peer refuses for good (validation, unsupported). */
  refusedChange(): ChangeSpec;
  /**
   * For a connector with a receiver (started by the suite): the peer pushes one message to it,
   * the same each call; resolves once the peer has the answer, whether it was an acceptance.
   */
  deliver?(connector: Connector): Promise<{ readonly accepted: boolean }>;
  close(): Promise<void>;
}

export interface ConformanceHarness {
  /** Which checks apply; each one left out is reported as skipped with `why`. */
  readonly covers: Readonly<Partial<Record<ConformanceCheck, true>>>;
  /** Why a check does not apply to this protocol. */
  readonly why?: Readonly<Partial<Record<ConformanceCheck, string>>>;
  /** The pull page size the suite asks for (small, to force several pages). */
  readonly pageSize?: number;
  start(): Promise<ConformancePeer>;
}

let seq = 0;
function outbound(spec: ChangeSpec): OutboundChange {
  seq += 1;
  return {
    seq,
    op: 'upsert',
    canonicalId: `conformance-${seq}`,
    externalId: null,
    expectedVersion: null,
    base: null,
    idempotencyKey: `conformance-key-${seq}`,
    priority: 0,
    ...spec,
    data: spec.data as CanonicalResource,
  };
}

export function conformanceLink(definition: AnyConnectorDefinition, config: JsonObject): Link {
  return {
    id: `lnk-conformance-${definition.name}`,
    practiceId: 'conformance',
    role: 'practice',
    connector: definition.name,
    name: `conformance ${definition.name}`,
    profile: null,
    config,
    secrets: null,
    schedule: null,
    isTest: true,
    enabled: true,
    version: 1,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
  };
}

/** The connector as the runtime builds it: the definition's schema, then create with a context. */
export function createThroughDefinition(
  definition: AnyConnectorDefinition,
  peer: Pick<ConformancePeer, 'config' | 'secrets'>,
): { connector: Connector; stop(): Promise<void> } {
  const config = definition.configSchema.parse(peer.config);
  const controller = new AbortController();
  const ctx: ConnectorContext = {
    link: conformanceLink(definition, peer.config),
    secrets: peer.secrets,
    log: silentLogger,
    now: Date.now,
    signal: controller.signal,
    timezone: 'Europe/Paris',
    publicUrl: 'http://127.0.0.1:0',
  };
  const connector = definition.create(config, ctx);
  return {
    connector,
    stop: async () => {
      controller.abort();
      await connector.stop();
    },
  };
}

/** Every page from `cursor` on: records, pages and the last cursor. */
export async function pullAll(
  connector: Connector,
  cursor: string | null,
  limit: number,
): Promise<{ records: ExternalRecord[]; pages: number; next: string | null }> {
  const pull = connector.pull?.bind(connector);
  if (!pull) throw new Error('the connector does not pull');
  const records: ExternalRecord[] = [];
  let pages = 0;
  let next = cursor;
  for (;;) {
    const page = await pull(next, limit);
    pages += 1;
    records.push(...page.records);
    next = page.next ?? next;
    if (!page.hasMore) return { records, pages, next };
    if (pages > 10_000) throw new Error('pull never ends');
  }
}

const created = (r: PushResult): { externalId: string; version?: string } => {
  if (!r.ok) throw new Error(`push failed: ${r.error.code} ${r.error.message}`);
  return r;
};

/** Declares the suite for one connector definition and its simulator. */
export function describeConformance(
  definition: AnyConnectorDefinition | undefined,
  harness: ConformanceHarness,
): void {
  if (!definition) throw new Error('describeConformance: no such connector in the registry');
  const check = (name: ConformanceCheck, title: string, fn: () => Promise<void>) => {
    if (harness.covers[name]) it(`${name}: ${title}`, fn);
  };
  const limit = harness.pageSize ?? 2;

  describe(`connector conformance: ${definition.name}`, () => {
    // A check left out must say why (no silent gaps, no skipped tests).
    it('says why each check it leaves out does not apply', () => {
      const left = CONFORMANCE_CHECKS.filter((c) => !harness.covers[c]);
      expect(left.filter((c) => !(harness.why?.[c] ?? '').trim())).toEqual([]);
    });
    const withPeer = async (fn: (peer: ConformancePeer) => Promise<void>) => {
      const peer = await harness.start();
      try {
        await fn(peer);
      } finally {
        await peer.close();
      }
    };
    const withConnector = async (peer: ConformancePeer, fn: (c: Connector) => Promise<void>) => {
      const { connector, stop } = createThroughDefinition(definition, peer);
      try {
        await fn(connector);
      } finally {
        await stop();
      }
    };

    check('paging', 'a pull since a cursor hands over what the peer did since, over several pages', () =>
      withPeer(async (peer) => {
        await withConnector(peer, async (c) => {
          const start = await pullAll(c, null, limit);
          const ids = await peer.seed(limit * 2 + 1);
          const since = await pullAll(c, start.next, limit);
          expect(since.pages).toBeGreaterThanOrEqual(3);
          expect(new Set(since.records.map((r) => r.externalId))).toEqual(new Set(ids));
          // The last cursor is the end: nothing more until the peer changes again.
          const again = await pullAll(c, since.next, limit);
          expect(again.records).toEqual([]);
        });
      }),
    );

    check(
      'idempotent-push',
      'one change pushed twice with its idempotency key is one record on the peer',
      () =>
        withPeer(async (peer) => {
          await withConnector(peer, async (c) => {
            const change = outbound(peer.creation(1));
            const before = await peer.count(change.kind);
            const first = created(await c.push(change));
            const second = created(await c.push(change));
            expect(second.externalId).toBe(first.externalId);
            expect(await peer.count(change.kind)).toBe(before + 1);
          });
        }),
    );

    check('cancel', 'a cancel or delete change is applied on the peer', () =>
      withPeer(async (peer) => {
        await withConnector(peer, async (c) => {
          const removal = await peer.removal(c);
          expect(await removal.removed()).toBe(false);
          created(await c.push(outbound(removal.change)));
          expect(await removal.removed()).toBe(true);
        });
      }),
    );

    check('error-classes', 'a transient peer failure is retryable, a change refused for good is not', () =>
      withPeer(async (peer) => {
        await withConnector(peer, async (c) => {
          peer.failNextTransiently();
          const transient = await c.push(outbound(peer.creation(2)));
          expect(transient.ok ? 'ok' : transient.error.retryable).toBe(true);
          const refused = await c.push(outbound(peer.refusedChange()));
          expect(refused.ok ? 'ok' : refused.error.retryable).toBe(false);
          // The peer is fine afterwards: the same creation goes through.
          created(await c.push(outbound(peer.creation(3))));
        });
      }),
    );

    check(
      'receive',
      'a message the peer pushes reaches the handler with its records and a dedupe key; a resend has the same key',
      () =>
        withPeer(async (peer) => {
          if (!peer.deliver) throw new Error('the harness covers receive but has no deliver()');
          await withConnector(peer, async (c) => {
            if (!c.start) throw new Error('the connector has no receiver');
            // The engine's stand-in: commits once per dedupe key, answers a resend as a duplicate.
            const got: InboundMessage[] = [];
            const committed = new Set<string>();
            const handler: InboundHandler = async (message) => {
              got.push(message);
              const key = message.dedupe?.key ?? `no-key-${got.length}`;
              if (committed.has(key)) return { outcome: 'duplicate', response: null, flags: [] };
              committed.add(key);
              const outcome = { status: 'applied' as const, flags: [] };
              return { outcome: 'applied', response: message.respond?.(outcome) ?? null, flags: [] };
            };
            await c.start(handler);
            expect(await peer.deliver?.(c)).toEqual({ accepted: true });
            expect(await peer.deliver?.(c)).toEqual({ accepted: true });
            expect(got).toHaveLength(2);
            const [first, resend] = got as [InboundMessage, InboundMessage];
            expect(first.error).toBeUndefined();
            expect(first.records.length).toBeGreaterThan(0);
            expect(first.dedupe?.key).toMatch(/\S/);
            expect(resend.dedupe?.key).toBe(first.dedupe?.key);
            expect(committed.size).toBe(1);
          });
        }),
    );

    check('restart', 'a connector stopped and created again resumes from the stored cursor', () =>
      withPeer(async (peer) => {
        let cursor: string | null = null;
        let before: readonly string[] = [];
        await withConnector(peer, async (c) => {
          before = await peer.seed(2);
          cursor = (await pullAll(c, null, limit)).next;
        });
        const after = await peer.seed(2);
        await withConnector(peer, async (c) => {
          const resumed = await pullAll(c, cursor, limit);
          const ids = new Set(resumed.records.map((r) => r.externalId));
          expect(ids).toEqual(new Set(after));
          for (const id of before) expect(ids.has(id)).toBe(false);
        });
      }),
    );
  });
}
