/**
 * The activity report as CSV for the practice's staff, who open it in Excel (French locale):
 * - `;` between fields: French Excel uses `;` as list separator, since `,` is the decimal comma;
 * - UTF-8 with a byte-order mark, so Excel reads accents as UTF-8 and not as Windows-1252;
 * - CRLF line ends and RFC 4180 §2 quoting: a field holding `;`, `"`, CR or LF (or spaces at its
 *   ends, which Excel would trim) is quoted, its quotes doubled;
 * - a text field that starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a link
 *   name can never run as a formula (OWASP "CSV Injection"); numbers are written as they are;
 * - one section per table, a title line, a header line, rows, an empty line; French labels;
 *   times in the practice's zone as `2026-11-23 09:00:00`, which Excel reads as a date.
 */
import { DateTime } from 'luxon';

import type { ActivityReport, AppointmentCounts, MessageStats } from './report-schema.js';

export const CSV_SEPARATOR = ';';
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';
const BOM = '\uFEFF';
const EOL = '\r\n';

export type CsvValue = string | number | boolean | null | undefined;

/** One field, quoted and defused as the module comment says. */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'oui' : 'non';
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  if (/[;"\r\n]/.test(text) || /^\s|\s$/.test(text)) text = `"${text.replace(/"/g, '""')}"`;
  return text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvField).join(CSV_SEPARATOR);
}

/** A whole document: BOM, one line per row, CRLF after each. */
export function csvDocument(rows: readonly (readonly CsvValue[])[]): string {
  return BOM + rows.map((r) => csvLine(r) + EOL).join('');
}

const COUNT_HEADERS = ['Pris', 'Déplacés', 'Annulés', 'Absents (lapins)', 'Arrivés', 'Refusés'];
const counts = (c: AppointmentCounts): number[] => [
  c.booked,
  c.moved,
  c.cancelled,
  c.noshow,
  c.arrived,
  c.refused,
];
const ORIGIN_LABEL = { secretariat: 'Secrétariat', practice: 'Cabinet' } as const;
const message = (label: string, m: MessageStats): CsvValue[] => [
  label,
  m.received,
  m.delivered,
  m.latencyMs.p50,
  m.latencyMs.p95,
  m.latencyMs.max,
];

/** The activity report as rows, one section per table. */
export function reportRows(report: ActivityReport): CsvValue[][] {
  const zone = report.practice.timezone;
  const local = (iso: string | null) =>
    iso === null ? null : DateTime.fromISO(iso, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  const rows: CsvValue[][] = [];
  const section = (title: string, header: CsvValue[], body: CsvValue[][]) =>
    rows.push([title], header, ...body, []);

  section(
    'Rapport d’activité passerelle',
    ['Rubrique', 'Valeur'],
    [
      ['Cabinet', report.practice.name],
      ['Identifiant du cabinet', report.practice.id],
      ['Fuseau horaire', zone],
      ['Du (inclus, heure locale)', local(report.period.from)],
      ['Au (exclu, heure locale)', local(report.period.to)],
      ['Généré le (heure locale)', local(report.generatedAt)],
    ],
  );

  const { appointments: a } = report;
  section(
    'Rendez-vous par origine',
    ['Origine', ...COUNT_HEADERS],
    [
      [ORIGIN_LABEL.secretariat, ...counts(a.byOrigin.secretariat)],
      [ORIGIN_LABEL.practice, ...counts(a.byOrigin.practice)],
      ['Total', ...counts(a.total)],
    ],
  );

  section(
    'Rendez-vous par praticien',
    ['Praticien', 'Identifiant', 'Origine', ...COUNT_HEADERS],
    a.byPractitioner.flatMap((p) => {
      const who = [p.name ?? (p.practitionerId === null ? 'Sans praticien' : null), p.practitionerId];
      return [
        [...who, ORIGIN_LABEL.secretariat, ...counts(p.byOrigin.secretariat)],
        [...who, ORIGIN_LABEL.practice, ...counts(p.byOrigin.practice)],
        [...who, 'Total', ...counts(p.total)],
      ];
    }),
  );

  const m = report.messages;
  section(
    'Messages et urgences',
    ['Priorité', 'Reçus', 'Remis au cabinet', 'Délai p50 (ms)', 'Délai p95 (ms)', 'Délai max (ms)'],
    [
      message('Routine', m.byPriority.routine),
      message('Urgent', m.byPriority.urgent),
      message('Dès que possible (asap)', m.byPriority.asap),
      message('Immédiat (stat)', m.byPriority.stat),
      message('Toutes urgences', m.urgencies),
      message('Tous les messages', m.all),
    ],
  );

  const u = report.urgentAcknowledgement;
  if (u)
    section(
      'Urgences : acquittement et escalade',
      [
        'Urgences',
        'Acquittées',
        'Escaladées (passerelle SMS/e-mail)',
        'Rappels demandés au secrétariat',
        'Délai d’acquittement p50 (s)',
        'Délai d’acquittement p95 (s)',
      ],
      [[u.urgent, u.acknowledged, u.escalated, u.callbacks, u.ackP50Seconds, u.ackP95Seconds]],
    );

  const rm = report.reminders;
  if (rm)
    section(
      'Rappels et relances',
      [
        'Rappels de rendez-vous',
        'Relances de suivi',
        'Transmis au secrétariat',
        'Joints',
        'Non joints',
        'Reprogrammés',
        'Refusés',
        'Sans résultat',
        'Ne plus relancer',
        'Reportés dans le logiciel',
        'Non faits : sans consentement',
        'Non faits : opposition',
        'Non faits : patient inactif',
      ],
      [
        [
          rm.reminders,
          rm.recalls,
          rm.handed,
          rm.reached,
          rm.notReached,
          rm.rebooked,
          rm.declined,
          rm.awaitingOutcome,
          rm.optOuts,
          rm.writtenBack,
          rm.skippedNoConsent,
          rm.skippedOptedOut,
          rm.skippedInactive,
        ],
      ],
    );

  const c = report.conflicts;
  section(
    'Conflits',
    ['Indicateur', 'Nombre'],
    [
      ['Ouverts pour arbitrage', c.openedForReview],
      ['Résolus par un opérateur', c.resolved],
      ['Décidés automatiquement (propriété des champs)', c.autoDecided],
      ['Modifications refusées (propriété des champs)', c.refusedByOwnership],
      ['Ouverts à ce jour', c.openNow],
    ],
  );

  const d = report.deadLetters;
  section(
    'Changements en échec (dead letters)',
    ['Code', 'Sens', 'Nombre'],
    [
      ...d.byReason.map((r) => [r.reasonCode, r.source === 'inbox' ? 'Reçu' : 'Envoi', r.count]),
      ['Total de la période', null, d.total],
      ['Ouverts à ce jour', null, d.openNow],
    ],
  );

  section(
    'Liaisons (état au moment du rapport)',
    [
      'Liaison',
      'Identifiant',
      'Rôle',
      'Connecteur',
      'Active',
      'Dernier relevé réussi',
      'Retard (s)',
      'Dernier envoi',
      'En attente',
      'En cours',
      'En échec',
      'Plus ancien en attente (s)',
    ],
    report.links.map((l) => [
      l.name,
      l.linkId,
      ORIGIN_LABEL[l.role],
      l.connector,
      l.enabled,
      local(l.lastSuccessAt),
      l.lagSeconds,
      local(l.lastPushAt),
      l.outbox.pending,
      l.outbox.leased,
      l.outbox.dead,
      l.oldestPendingAgeSeconds,
    ]),
  );
  return rows;
}

export function reportCsv(report: ActivityReport): string {
  return csvDocument(reportRows(report));
}

/**
 * `passerelle-activite-<practice>-<from>-<to>.csv`, with local dates (a time only when the bound
 * is not local midnight) and nothing a file system or a header could choke on.
 */
export function reportFilename(report: Pick<ActivityReport, 'practice' | 'period'>): string {
  const zone = report.practice.timezone;
  const bound = (iso: string) => {
    const dt = DateTime.fromISO(iso, { zone });
    return dt.toFormat(
      dt.hour === 0 && dt.minute === 0 && dt.second === 0 && dt.millisecond === 0
        ? 'yyyy-MM-dd'
        : "yyyy-MM-dd'T'HHmm",
    );
  };
  const practice = report.practice.id.replace(/[^A-Za-z0-9._-]/g, '_');
  return `passerelle-activite-${practice}-${bound(report.period.from)}-${bound(report.period.to)}.csv`;
}
