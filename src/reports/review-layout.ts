/**
 * The review document laid out once, in French, as sections of text, tables and bar charts;
 * review-html.ts and review-pdf.ts draw the same layout, so both carry the same figures.
 */
import { DateTime } from 'luxon';

import type { CallThresholdKey, ThresholdCheck } from './call-kpis.js';
import type { PracticeReview, ReviewExtraSection } from './review.js';

export interface ReviewTable {
  readonly caption: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Row indexes drawn as missed (a threshold not met). */
  readonly flagged?: readonly number[];
}
export interface ReviewChart {
  readonly title: string;
  readonly labels: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[];
}
export interface ReviewSection {
  readonly title: string;
  readonly text: readonly string[];
  readonly tables: readonly ReviewTable[];
  readonly charts: readonly ReviewChart[];
}
export interface ReviewLayout {
  readonly title: string;
  readonly subtitle: string;
  readonly sections: readonly ReviewSection[];
}

/**
 * French number: `1 234`, `12,5`. The group separator is a plain no-break space (U+00A0), not the
 * narrow one (U+202F) Intl gives for fr-FR: the PDF's standard fonts (WinAnsi) have no glyph for
 * U+202F, which comes out as garbage.
 */
export function num(n: number | null, digits = 0): string {
  if (n === null) return '—';
  return new Intl.NumberFormat('fr-FR', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
    .format(n)
    .replace(/[\u202f\u2009]/g, '\u00a0');
}
const pct = (n: number, of: number) => (of === 0 ? '—' : `${num((n / of) * 100, 1)} %`);
const secs = (s: number | null) => (s === null ? '—' : `${num(s)} s`);
const msAsSecs = (ms: number | null) => (ms === null ? '—' : `${num(Math.round(ms / 1000))} s`);

const THRESHOLD_LABEL: Record<CallThresholdKey, (c: ThresholdCheck) => string> = {
  answeredWithin: (c) => `Appels décrochés en moins de ${c.withinSeconds ?? '?'} s ≥ ${num(c.target, 1)} %`,
  minAnsweredPercent: (c) => `Appels décrochés ≥ ${num(c.target, 1)} %`,
  maxAbandonedPercent: (c) => `Appels abandonnés ≤ ${num(c.target, 1)} %`,
  maxWaitP95Seconds: (c) => `Attente p95 ≤ ${num(c.target)} s`,
  minSatisfaction: (c) => `Satisfaction ≥ ${num(c.target, 1)} / 5`,
};
const thresholdValue = (c: ThresholdCheck) =>
  c.value === null
    ? 'non mesuré'
    : c.key === 'maxWaitP95Seconds'
      ? `${num(c.value)} s`
      : c.key === 'minSatisfaction'
        ? `${num(c.value, 1)} / 5`
        : `${num(c.value, 1)} %`;
const verdict = (c: ThresholdCheck) => (c.value === null ? '—' : c.missed ? 'NON ATTEINT' : 'atteint');

function dayLabel(day: string): string {
  return DateTime.fromISO(day).setLocale('fr').toFormat('ccc d');
}
function when(iso: string, zone: string): string {
  return DateTime.fromISO(iso, { zone }).setLocale('fr').toFormat("d MMMM yyyy 'à' HH:mm");
}

/**
 * French labels of the figures the activity report's coverage and reminders sections carry; a
 * figure without one (a field added later) shows its key rather than disappearing.
 */
const FIGURE_LABELS: Readonly<Record<string, string>> = {
  hoursCovered: 'Heures couvertes par le secrétariat',
  'bookings.inside': 'Rendez-vous pris pendant les plages couvertes',
  'bookings.outside': 'Rendez-vous pris hors des plages couvertes',
  'messages.inside': 'Messages pris pendant les plages couvertes',
  'messages.outside': 'Messages pris hors des plages couvertes',
  reminders: 'Rappels de rendez-vous',
  recalls: 'Relances de suivi',
  handed: 'Confiés au secrétariat',
  reached: 'Patient joint',
  notReached: 'Patient non joint',
  rebooked: 'Rendez-vous déplacé ou pris',
  declined: 'Refus du patient',
  awaitingOutcome: 'En attente du résultat de l’appel',
  optOuts: 'Patients ne souhaitant plus être rappelés',
  writtenBack: 'Résultats reportés dans le logiciel du cabinet',
  skippedNoConsent: 'Non faits : consentement non recueilli',
  skippedOptedOut: 'Non faits : opposition du patient',
  skippedInactive: 'Non faits : patient inactif ou fusionné',
};

export function figureLabel(key: string): string {
  return FIGURE_LABELS[key] ?? key;
}

function extra(title: string, s: ReviewExtraSection): ReviewSection {
  if (!s.available) return { title, text: ['Non disponible pour cette période.'], tables: [], charts: [] };
  return {
    title,
    text: s.figures.length === 0 ? ['Aucune donnée pour cette période.'] : [],
    tables:
      s.figures.length === 0
        ? []
        : [
            {
              caption: title,
              head: ['Indicateur', 'Valeur'],
              rows: s.figures.map((f) => [figureLabel(f.key), num(f.value, 1)]),
            },
          ],
    charts: [],
  };
}

const LINK_ROLE: Record<string, string> = { secretariat: 'secrétariat', practice: 'cabinet' };

export function reviewLayout(r: PracticeReview): ReviewLayout {
  const zone = r.practice.timezone;
  const k = r.calls.totals;
  const missed = r.calls.checks.filter((c) => c.missed);
  const calls: ReviewSection = r.calls.available
    ? {
        title: 'Appels du secrétariat',
        text: [
          `Appels reçus : ${num(k.received)} ; décrochés : ${num(k.answered)} (${pct(k.answered, k.received)}) ; abandonnés : ${num(k.abandoned)} (${pct(k.abandoned, k.received)}).`,
          `Temps d’attente : médiane ${secs(k.waitP50Seconds)}, p95 du jour le plus chargé ${secs(k.waitP95Seconds)}.`,
          `Issue des appels : ${num(k.outcomes.booked)} rendez-vous pris, ${num(k.outcomes.message)} messages, ${num(k.outcomes.urgent)} urgences, ${num(k.outcomes.redirected)} réorientés.`,
          k.satisfaction === null
            ? 'Satisfaction : non mesurée par la plateforme.'
            : `Satisfaction : ${k.satisfaction.averageScore === null ? '—' : `${num(k.satisfaction.averageScore, 1)} / 5`} (${num(k.satisfaction.responses)} réponses).`,
          r.calls.checks.length === 0
            ? 'Aucun seuil contractuel n’est défini.'
            : missed.length === 0
              ? 'Tous les seuils du contrat sont atteints.'
              : `Seuils du contrat non atteints : ${missed.length}.`,
        ],
        tables: [
          ...(r.calls.checks.length === 0
            ? []
            : [
                {
                  caption: 'Seuils du contrat (sur la période)',
                  head: ['Seuil', 'Mesuré', 'Résultat'],
                  rows: r.calls.checks.map((c) => [THRESHOLD_LABEL[c.key](c), thresholdValue(c), verdict(c)]),
                  flagged: r.calls.checks.flatMap((c, i) => (c.missed ? [i] : [])),
                },
              ]),
          {
            caption: 'Appels par jour',
            head: ['Jour', 'Reçus', 'Décrochés', 'Abandonnés', 'Attente p50', 'Attente p95', 'Seuils'],
            rows: r.calls.days.map((d) => [
              dayLabel(d.day),
              num(d.received),
              num(d.answered),
              num(d.abandoned),
              secs(d.waitSeconds.p50),
              secs(d.waitSeconds.p95),
              d.checks.some((c) => c.missed) ? 'non atteints' : d.checks.length ? 'atteints' : '—',
            ]),
            flagged: r.calls.days.flatMap((d, i) => (d.checks.some((c) => c.missed) ? [i] : [])),
          },
        ],
        charts: [
          {
            title: 'Appels décrochés et abandonnés par jour',
            labels: r.calls.days.map((d) => dayLabel(d.day)),
            series: [
              { name: 'Décrochés', values: r.calls.days.map((d) => d.answered) },
              { name: 'Abandonnés', values: r.calls.days.map((d) => d.abandoned) },
            ],
          },
        ],
      }
    : {
        title: 'Appels du secrétariat',
        text: [
          'Non disponible : la plateforme du secrétariat n’a transmis aucun chiffre pour cette période.',
        ],
        tables: [],
        charts: [],
      };

  const b = r.bookings;
  const bookings: ReviewSection = {
    title: 'Rendez-vous par origine',
    text: [
      `Rendez-vous pris par le secrétariat : ${num(b.secretariat)} ; par le cabinet : ${num(b.practice)}.`,
      `Annulés : ${num(b.cancelled)} ; refusés au secrétariat (créneau bloqué ou pris) : ${num(b.refused)}.`,
    ],
    tables: [],
    charts: [
      {
        title: 'Rendez-vous pris par jour',
        labels: b.byDay.map((d) => dayLabel(d.day)),
        series: [
          { name: 'Secrétariat', values: b.byDay.map((d) => d.secretariat) },
          { name: 'Cabinet', values: b.byDay.map((d) => d.practice) },
        ],
      },
    ],
  };

  const u = r.urgent;
  const ack = u.acknowledgement;
  const urgent: ReviewSection = {
    title: 'Messages urgents et accusés de réception',
    text: [
      `Messages urgents reçus : ${num(u.received)} ; remis au cabinet : ${num(u.delivered)} (délai médian ${msAsSecs(u.deliveryP50Ms)}, p95 ${msAsSecs(u.deliveryP95Ms)}).`,
      ack
        ? `Accusés de réception : ${num(ack.acknowledged)} sur ${num(ack.urgent)} (délai médian ${secs(ack.ackP50Seconds)}, p95 ${secs(ack.ackP95Seconds)}) ; relances : ${num(ack.escalated)} ; rappels demandés au secrétariat : ${num(ack.callbacks)}.`
        : 'Accusés de réception : non disponible.',
    ],
    tables: [],
    charts: [],
  };

  const sync: ReviewSection = {
    title: 'Santé de la synchronisation',
    text: [
      `Changements en échec sur la période : ${num(r.sync.deadLetters)} (en attente aujourd’hui : ${num(r.sync.deadLettersOpenNow)}). Conflits à arbitrer ouverts sur la période : ${num(r.sync.conflictsForReview)} (ouverts aujourd’hui : ${num(r.sync.conflictsOpenNow)}).`,
    ],
    tables: [
      {
        caption: 'Liaisons',
        head: ['Liaison', 'Côté', 'Active', 'Dernier succès', 'En attente', 'En échec'],
        rows: r.sync.links.map((l) => [
          l.name,
          LINK_ROLE[l.role] ?? l.role,
          l.enabled ? 'oui' : 'non',
          l.lastSuccessAt ? when(l.lastSuccessAt, zone) : '—',
          num(l.outbox.pending + l.outbox.leased),
          num(l.outbox.dead),
        ]),
        flagged: r.sync.links.flatMap((l, i) => (l.outbox.dead > 0 ? [i] : [])),
      },
    ],
    charts: [],
  };

  const c = r.consignes;
  const consignes: ReviewSection = {
    title: 'Ce qui a changé dans les consignes',
    text: [
      c.changes.length === 0
        ? `Aucun changement sur la période${c.versionInForce === null ? '' : ` (version ${c.versionInForce} en vigueur)`}.`
        : `${num(c.changes.length)} nouvelle(s) version(s) ; version en vigueur à la fin de la période : ${c.versionInForce ?? '—'}.`,
    ],
    tables:
      c.changes.length === 0
        ? []
        : [
            {
              caption: 'Versions des consignes',
              head: ['Version', 'Date', 'Auteur', 'Parties modifiées', 'Publiée'],
              rows: c.changes.map((v) => [
                String(v.version),
                when(v.createdAt, zone),
                v.author,
                v.paths.slice(0, 6).join(', ') + (v.paths.length > 6 ? '…' : ''),
                v.published ? 'oui' : 'non',
              ]),
              flagged: c.changes.flatMap((v, i) => (v.published ? [] : [i])),
            },
          ],
    charts: [],
  };

  return {
    title: `Revue ${r.period.kind === 'week' ? 'hebdomadaire' : 'mensuelle'} — ${r.practice.name}`,
    subtitle: `${r.period.title} · établie le ${when(r.generatedAt, zone)} (heure locale)`,
    sections: [
      calls,
      bookings,
      urgent,
      extra('Couverture de l’agenda', r.coverage),
      extra('Rappels de rendez-vous', r.reminders),
      sync,
      consignes,
    ],
  };
}
