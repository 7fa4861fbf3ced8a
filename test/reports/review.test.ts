import { describe, expect, it } from '@jest/globals';
import { PDFParse } from 'pdf-parse';

import { CallThresholds } from '../../src/config/schema.js';
import type { ActivityReport } from '../../src/reports/report-schema.js';
import { reviewModel, reviewPeriod } from '../../src/reports/review.js';
import { reviewHtml } from '../../src/reports/review-html.js';
import { num, reviewLayout } from '../../src/reports/review-layout.js';
import { reviewPdf, toPdfText } from '../../src/reports/review-pdf.js';
import type { ConsignesVersion } from '../../src/store/repos/consignes.js';
import type { Practice } from '../../src/store/types.js';

const zero = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };
const stats = { received: 0, delivered: 0, latencyMs: { count: 0, p50: null, p95: null, max: null } };
const practice = {
  id: 'p1',
  name: 'Cabinet des Érables',
  timezone: 'Europe/Paris',
  settings: {},
  createdAt: '2026-01-01T00:00:00Z',
} as unknown as Practice;

function report(extra: Record<string, unknown> = {}): ActivityReport {
  return {
    practice: { id: 'p1', name: 'Cabinet des Érables', timezone: 'Europe/Paris' },
    period: { from: '2026-11-29T23:00:00.000Z', to: '2026-12-06T23:00:00.000Z' },
    generatedAt: '2026-12-07T06:00:00.000Z',
    appointments: {
      total: { ...zero, booked: 7, cancelled: 1 },
      byOrigin: { secretariat: { ...zero, booked: 5 }, practice: { ...zero, booked: 2 } },
      byPractitioner: [],
    },
    messages: {
      all: stats,
      urgencies: {
        received: 3,
        delivered: 3,
        latencyMs: { count: 3, p50: 12_000, p95: 40_000, max: 40_000 },
      },
      byPriority: { routine: stats, urgent: stats, asap: stats, stat: stats },
    },
    urgentAcknowledgement: {
      urgent: 3,
      acknowledged: 2,
      escalated: 1,
      callbacks: 0,
      ackP50Seconds: 300,
      ackP95Seconds: 900,
    },
    conflicts: { openedForReview: 0, resolved: 0, autoDecided: 0, refusedByOwnership: 0, openNow: 0 },
    deadLetters: { total: 0, byReason: [], openNow: 0 },
    links: [],
    ...extra,
  } as ActivityReport;
}

const consignes: ConsignesVersion[] = [
  {
    practiceId: 'p1',
    version: 2,
    document: {},
    author: 'key-1',
    diff: [{ path: 'welcomeScript', before: 'a', after: 'b' }],
    createdAt: '2026-12-03T09:00:00.000Z',
    publishedAt: '2026-12-03T09:00:01.000Z',
    publishError: null,
  },
  {
    practiceId: 'p1',
    version: 1,
    document: {},
    author: 'key-1',
    diff: [],
    createdAt: '2026-11-01T09:00:00.000Z',
    publishedAt: '2026-11-01T09:00:01.000Z',
    publishError: null,
  },
];

const model = (extra: Record<string, unknown> = {}) =>
  reviewModel({
    practice,
    period: reviewPeriod('week', '2026-12-02', 'Europe/Paris'),
    now: Date.parse('2026-12-07T06:00:00Z'),
    report: report(extra),
    points: [],
    callDays: [
      {
        day: '2026-11-30',
        received: 1234,
        answered: 1200,
        abandoned: 34,
        answeredWithin: { '15': 900, '30': 1000, '60': 1100, '120': 1180, '300': 1200 },
        waitSeconds: { p50: 14, p95: 95 },
        outcomes: { booked: 600, message: 400, urgent: 50, redirected: 150 },
        satisfaction: null,
      },
    ],
    thresholds: CallThresholds.parse({ answeredWithin: { seconds: 60, minPercent: 90 } }),
    consignes,
  });

describe('the review model', () => {
  it('reads a week from its Monday and a month from its first day, in the practice’s zone', () => {
    expect(reviewPeriod('week', '2026-12-02', 'Europe/Paris')).toMatchObject({
      startDay: '2026-11-30',
      endDay: '2026-12-07',
      period: { from: '2026-11-29T23:00:00.000Z', to: '2026-12-06T23:00:00.000Z' },
      title: 'Semaine du 30 novembre au 6 décembre 2026',
    });
    expect(reviewPeriod('month', '2026-03-15', 'America/Martinique')).toMatchObject({
      startDay: '2026-03-01',
      endDay: '2026-04-01',
      title: 'Mars 2026',
    });
    expect(() => reviewPeriod('week', '2026-13-01', 'Europe/Paris')).toThrow(
      expect.objectContaining({ code: 'ERR_VALIDATION' }),
    );
  });

  it('flags the period’s missed threshold and keeps the consignes versions of the period only', () => {
    const r = model();
    expect(r.calls.checks).toEqual([
      { key: 'answeredWithin', target: 90, withinSeconds: 60, value: 89.1, missed: true },
    ]);
    expect(r.consignes).toEqual({
      versionInForce: 2,
      changes: [
        {
          version: 2,
          author: 'key-1',
          createdAt: '2026-12-03T09:00:00.000Z',
          paths: ['welcomeScript'],
          published: true,
        },
      ],
    });
    expect(r.bookings).toMatchObject({ secretariat: 5, practice: 2, cancelled: 1 });
  });

  it('says « non disponible » for agenda coverage and reminders until the activity report carries them', () => {
    const without = reviewHtml(reviewLayout(model()));
    expect(without).toMatch(/Couverture de l’agenda<\/h2><p>Non disponible/);
    expect(without).toMatch(/Rappels de rendez-vous<\/h2><p>Non disponible/);
    const withThem = model({ coverage: { coveredPercent: 97.5 }, reminders: { sent: 40, confirmed: 31 } });
    expect(withThem.coverage.figures).toEqual([{ key: 'coveredPercent', value: 97.5 }]);
    expect(reviewHtml(reviewLayout(withThem))).toContain('<td>31</td>');
  });

  it('names the coverage and reminder figures of the activity report in French', () => {
    const html = reviewHtml(
      reviewLayout(
        model({
          coverage: {
            timeZone: 'Europe/Paris',
            hoursCovered: 42.5,
            bookings: { inside: 12, outside: 3 },
            messages: { inside: 20, outside: 4 },
            byDay: [],
          },
          reminders: { reminders: 18, recalls: 2, handed: 20, reached: 15, optOuts: 1 },
        }),
      ),
    );
    expect(html).toContain('<th scope="row">Heures couvertes par le secrétariat</th>');
    expect(html).toContain('<th scope="row">Rendez-vous pris hors des plages couvertes</th>');
    expect(html).toContain('<th scope="row">Patients ne souhaitant plus être rappelés</th>');
    expect(html).not.toContain('bookings.outside');
  });

  it('renders French text in the PDF as the HTML has it: accents, ’, œ, « », and grouped numbers', async () => {
    const layout = reviewLayout(model());
    const html = reviewHtml(layout);
    expect(html).toContain(`Appels reçus : ${num(1234)}`);
    const pdf = await reviewPdf(
      { ...layout, subtitle: `${layout.subtitle} — « œuvre » à l’accueil, ça va` },
      { createdAt: new Date('2026-12-07T06:00:00Z') },
    );
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const { text } = await new PDFParse({ data: pdf }).getText();
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain('« œuvre » à l’accueil, ça va');
    expect(flat).toContain('Appels reçus : 1 234 ; décrochés : 1 200');
    expect(flat).toContain('Revue hebdomadaire — Cabinet des Érables');
    expect(flat).toContain('NON ATTEINT');
  });

  it('keeps the PDF text inside the standard font’s encoding', () => {
    expect(toPdfText('1\u202f234 ≥ 90 % — ✓')).toBe('1\u00a0234 >= 90 % — ?');
  });
});
