/**
 * Consignes and scripts (issue 21 point 1): per practice, one versioned document the
 * secretariat's agents follow — the welcome script (script d'accueil), instructions per patient
 * profile (the practice defines its profiles), per practitioner, and what counts as urgent with
 * whom to call. Instructions per visit type stay where they already live: the appointment types
 * of the mapping profile (`practiceCatalogue`, published with the appointment types).
 * Each change is a new version with its author and its diff (audited), published to the
 * secretariat platform at once (`Connector.publishConsignes`); a failed publication is kept
 * on the version (`publishError`) and `POST …/consignes/publish` sends the one in force again.
 */
import { z } from 'zod';

import type { Connector } from '../connector/contract.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { ConsignesVersion } from '../store/repos/consignes.js';
import { putVersioned } from '../store/repos/versioned.js';
import type { JsonObject } from '../store/types.js';

const Code = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { error: 'a code: a-z 0-9 - (1-40)' });
const Instructions = z.string().min(1).max(4000);

/** The document the API takes and the platform receives. French text for the agents; no patient data. */
export const ConsignesDocument = z.strictObject({
  welcomeScript: z.string().max(4000).default(''),
  profiles: z
    .array(z.strictObject({ code: Code, label: z.string().min(1).max(100), instructions: Instructions }))
    .max(50)
    .default([])
    .refine((a) => new Set(a.map((p) => p.code)).size === a.length, {
      error: 'profile codes must be unique',
    }),
  practitioners: z
    .array(
      z.strictObject({
        practitionerId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
        instructions: Instructions,
      }),
    )
    .max(200)
    .default([]),
  urgent: z
    .strictObject({
      criteria: z.array(z.string().min(1).max(500)).max(50).default([]),
      whomToCall: z
        .array(
          z.strictObject({
            label: z.string().min(1).max(100),
            phone: z
              .string()
              .regex(/^\+?[0-9 .-]{6,20}$/)
              .nullable()
              .default(null),
            when: z.string().max(200).nullable().default(null),
          }),
        )
        .max(20)
        .default([]),
    })
    .default({ criteria: [], whomToCall: [] }),
});
export type ConsignesDocument = z.infer<typeof ConsignesDocument>;

export interface DiffEntry {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

function flatten(value: unknown, path: string, out: Map<string, unknown>): void {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(path, []);
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(v, path === '' ? k : `${path}.${k}`, out);
  } else out.set(path, value);
}

/** Leaf-by-leaf differences between two documents (paths such as `profiles[1].instructions`). */
export function consignesDiff(before: unknown, after: unknown): DiffEntry[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before ?? {}, '', a);
  flatten(after, '', b);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths
    .filter((p) => JSON.stringify(a.get(p)) !== JSON.stringify(b.get(p)))
    .map((p) => ({ path: p, before: a.get(p) ?? null, after: b.get(p) ?? null }));
}

export interface ConsignesDeps {
  readonly store: Store;
  readonly connectorOf: (linkId: string) => Connector | undefined;
}

export interface ConsignesView {
  readonly version: number;
  readonly document: JsonObject;
  readonly author: string;
  readonly createdAt: string;
  readonly publishedAt: string | null;
  readonly publishError: string | null;
}

const view = (v: ConsignesVersion): ConsignesView => ({
  version: v.version,
  document: v.document,
  author: v.author,
  createdAt: v.createdAt,
  publishedAt: v.publishedAt,
  publishError: v.publishError,
});

export class ConsignesService {
  constructor(private readonly deps: ConsignesDeps) {}

  async current(practiceId: string): Promise<ConsignesView> {
    await this.deps.store.practices.require(practiceId);
    const c = await this.deps.store.consignes.current(practiceId);
    if (!c) throw new PasserelleError('ERR_NOT_FOUND', `practice ${practiceId} has no consignes yet`);
    return view(c);
  }

  async versions(practiceId: string): Promise<(ConsignesView & { diff: ConsignesVersion['diff'] })[]> {
    await this.deps.store.practices.require(practiceId);
    return (await this.deps.store.consignes.versions(practiceId)).map((v) => ({ ...view(v), diff: v.diff }));
  }

  /**
   * Stores a new version (If-Match: `expectedVersion`, 0 for the first), audited with its author
   * and diff, then publishes it. ERR_CONFLICT when another change came first.
   */
  async update(
    practiceId: string,
    input: unknown,
    who: { readonly actor: string; readonly role: string | null; readonly requestId: string | null },
    expectedVersion: number | undefined,
  ): Promise<ConsignesView & { diff: ConsignesVersion['diff'] }> {
    const { store } = this.deps;
    await store.practices.require(practiceId);
    const parsed = ConsignesDocument.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: ['body', ...i.path.map(String)].join('.'),
        message: i.message,
      }));
      throw new PasserelleError('ERR_VALIDATION', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });
    }
    const document = parsed.data as unknown as JsonObject;
    let diff: DiffEntry[] = [];
    const { version } = await putVersioned({
      current: () => store.consignes.current(practiceId),
      expectedVersion,
      conflict,
      // Each version is a new row (the history); the (practice, version) key makes a concurrent
      // change of the same version lose.
      write: (version, previous) => {
        diff = consignesDiff(previous?.document, document);
        return store.transaction(async (tx) => {
          if (!(await tx.consignes.add({ practiceId, version, document, author: who.actor, diff })))
            return false;
          await tx.audit.append({
            actor: who.actor,
            role: who.role,
            action: 'consignes.update',
            resourceType: 'Consignes',
            resourceId: `${practiceId}/v${version}`,
            practiceId,
            outcome: 'success',
            requestId: who.requestId,
            via: 'api',
            details: { version, changed: diff.map((d) => d.path) },
          });
          return true;
        });
      },
    });
    await this.publish(practiceId);
    const stored = (await store.consignes.versions(practiceId)).find((v) => v.version === version);
    return { ...view(stored as ConsignesVersion), diff };
  }

  /** Sends the version in force to the practice's running secretariat link(s); records the outcome. */
  async publish(practiceId: string): Promise<ConsignesView> {
    const { store } = this.deps;
    const c = await store.consignes.current(practiceId);
    if (!c) throw new PasserelleError('ERR_NOT_FOUND', `practice ${practiceId} has no consignes yet`);
    const links = (await store.links.list({ practiceId, enabled: true })).filter(
      (l) => l.role === 'secretariat',
    );
    const targets = links
      .map((l) => this.deps.connectorOf(l.id))
      .filter((x) => x?.publishConsignes !== undefined);
    let error: string | null = targets.length === 0 ? 'no running secretariat link takes consignes' : null;
    for (const connector of targets) {
      try {
        await (connector as Required<Pick<Connector, 'publishConsignes'>>).publishConsignes({
          version: c.version,
          document: c.document,
        });
      } catch (e) {
        error = isPasserelleError(e) ? `${e.code}: ${e.message}` : 'the platform did not take the consignes';
      }
    }
    await store.consignes.markPublished(practiceId, c.version, error);
    return view((await store.consignes.current(practiceId)) as ConsignesVersion);
  }
}

const conflict = (current: number) =>
  new PasserelleError('ERR_CONFLICT', `the consignes changed meanwhile: version ${current} is in force`, {
    // reason: the console tells a stale version (« rechargez ») from other conflicts by it.
    details: { reason: 'stale-version', currentVersion: current },
  });
