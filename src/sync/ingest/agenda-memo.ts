/**
 * The agenda rules an ingest asks for, read through its memo (context.ts `AgendaMemo`): each
 * appointment or slot applied asks whether its practitioner has rules (the publication of the
 * free slots a change asks for) and, for a secretariat booking, which rules are in effect
 * (rules set through the API, parsed; otherwise those imported from the practice's Schedules).
 * A page or group of a practitioner's bookings read and parsed them once per record; now once
 * per practitioner and transaction.
 *
 * What decides the rules: the practitioner's `agenda_rules` row (the API, in transactions of
 * its own: a group commit forgets the memo when another job changed anything, group.ts) and
 * the practice's Schedules, which an ingest writes — apply.ts calls `agendaRulesChanged` when it
 * writes one. Code that writes rules in a transaction that also ingests calls it too.
 */
import type { Repos, Tx } from '../../store/index.js';
import { type RulesInEffect, rulesInEffect } from '../agenda-rules.js';
import type { PracticeContext } from './context.js';

/** The practitioner's rules set through the API, as `agenda.getRules`, read once. */
export async function storedRulesOf(
  tx: Pick<Repos, 'agenda'>,
  ctx: Pick<PracticeContext, 'practiceId' | 'memo'>,
  practitionerId: string,
) {
  const known = ctx.memo.agenda.stored;
  if (known.has(practitionerId)) return known.get(practitionerId);
  const stored = await tx.agenda.getRules(ctx.practiceId, practitionerId);
  known.set(practitionerId, stored);
  return stored;
}

/** `rulesInEffect` of the practitioner, read and parsed once (see the file comment). */
export async function rulesInEffectOf(
  tx: Pick<Tx, 'agenda' | 'resources'>,
  ctx: Pick<PracticeContext, 'practiceId' | 'memo'>,
  practitionerId: string,
): Promise<RulesInEffect | undefined> {
  const known = ctx.memo.agenda.inEffect;
  if (known.has(practitionerId)) return known.get(practitionerId);
  const reader: Pick<Repos, 'agenda' | 'resources'> = {
    resources: tx.resources,
    agenda: {
      ...tx.agenda,
      // Only this practice's rules go through its memo.
      getRules: (practiceId, id) =>
        practiceId === ctx.practiceId ? storedRulesOf(tx, ctx, id) : tx.agenda.getRules(practiceId, id),
    },
  };
  const inEffect = await rulesInEffect(reader, ctx.practiceId, practitionerId);
  known.set(practitionerId, inEffect);
  return inEffect;
}
