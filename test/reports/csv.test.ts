import { describe, expect, it } from '@jest/globals';

import { csvDocument, csvField, csvLine, reportCsv, reportFilename } from '../../src/reports/csv.js';
import { aggregateActivity } from '../../src/reports/report.js';
import type { ActivityReport } from '../../src/reports/report-schema.js';

describe('CSV fields for French Excel', () => {
  it('writes plain text and numbers as they are, null as an empty field, booleans in French', () => {
    expect(csvLine(['Cabinet Dupont', 42, null, undefined, true, false, 0])).toBe(
      'Cabinet Dupont;42;;;oui;non;0',
    );
  });

  it('quotes a field holding the separator, a quote, a line break, or spaces at its ends, doubling its quotes', () => {
    expect(csvField('a;b')).toBe('"a;b"');
    expect(csvField('le "grand" cabinet')).toBe('"le ""grand"" cabinet"');
    expect(csvField('ligne 1\nligne 2')).toBe('"ligne 1\nligne 2"');
    expect(csvField('ligne 1\r\nligne 2')).toBe('"ligne 1\r\nligne 2"');
    expect(csvField(' espace')).toBe('" espace"');
    expect(csvField('a,b')).toBe('a,b');
  });

  it('defuses text that a spreadsheet would run as a formula, but not negative numbers', () => {
    expect(csvField('=HYPERLINK("http://x","clic")')).toBe('"\'=HYPERLINK(""http://x"",""clic"")"');
    expect(csvField('+33 1 23')).toBe("'+33 1 23");
    expect(csvField('-2')).toBe("'-2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(-2)).toBe('-2');
  });

  it('keeps accents as UTF-8 after a byte-order mark, with CRLF line ends', () => {
    const doc = csvDocument([
      ['Déplacés', 'Arrivés'],
      [1, 2],
    ]);
    expect(doc).toBe('\uFEFFDéplacés;Arrivés\r\n1;2\r\n');
    expect([...Buffer.from(doc, 'utf8').subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});

describe('the activity report as CSV', () => {
  const aggregated = aggregateActivity(
    [
      {
        type: 'appointment.booked',
        origin: 'secretariat',
        practitionerId: 'pr-1',
        priority: null,
        detail: null,
        count: 2,
      },
      {
        type: 'appointment.cancelled',
        origin: 'practice',
        practitionerId: 'pr-1',
        priority: null,
        detail: null,
        count: 1,
      },
      {
        type: 'message.received',
        origin: 'secretariat',
        practitionerId: null,
        priority: 'urgent',
        detail: null,
        count: 1,
      },
      {
        type: 'message.delivered',
        origin: 'practice',
        practitionerId: null,
        priority: 'urgent',
        detail: null,
        count: 1,
      },
    ],
    [{ priority: 'urgent', latencyMs: 1234 }],
  );
  const report: ActivityReport = {
    practice: { id: 'cab/1', name: 'Cabinet; "Les Érables"', timezone: 'Europe/Paris' },
    period: { from: '2026-11-22T23:00:00.000Z', to: '2026-11-23T23:00:00.000Z' },
    generatedAt: '2026-11-24T05:05:00.000Z',
    appointments: {
      ...aggregated.appointments,
      byPractitioner: aggregated.appointments.byPractitioner.map((p) => ({
        ...p,
        name: 'Dr Camille DOCTEUR-ESSAI',
      })),
    },
    messages: aggregated.messages,
    conflicts: { ...aggregated.conflicts, openNow: 0 },
    deadLetters: {
      total: 2,
      byReason: [{ reasonCode: 'ERR_CONNECTOR_REJECTED', source: 'outbox', count: 2 }],
      openNow: 1,
    },
    links: [
      {
        linkId: 'l-1',
        name: '=Logiciel',
        role: 'practice',
        connector: 'memory',
        enabled: true,
        lastSuccessAt: '2026-11-24T05:00:00.000Z',
        lagSeconds: 300,
        lastPushAt: null,
        outbox: { pending: 1, leased: 0, dead: 2 },
        oldestPendingAgeSeconds: 60,
      },
    ],
  };
  const lines = reportCsv(report).slice(1).split('\r\n');

  it('starts each section with its title and header, and separates sections by an empty line', () => {
    const titles = lines.filter((_, i) => i === 0 || lines[i - 1] === '');
    expect(titles.filter(Boolean)).toEqual([
      'Rapport d’activité passerelle',
      'Rendez-vous par origine',
      'Rendez-vous par praticien',
      'Messages et urgences',
      'Conflits',
      'Changements en échec (dead letters)',
      'Liaisons (état au moment du rapport)',
    ]);
  });

  it('writes times in the practice’s zone and escapes the practice’s name', () => {
    expect(lines).toContain('Cabinet;"Cabinet; ""Les Érables"""');
    expect(lines).toContain('Du (inclus, heure locale);2026-11-23 00:00:00');
    expect(lines).toContain('Au (exclu, heure locale);2026-11-24 00:00:00');
  });

  it('puts the counts and delays in their rows', () => {
    expect(lines).toContain('Origine;Pris;Déplacés;Annulés;Absents (lapins);Arrivés;Refusés');
    expect(lines).toContain('Secrétariat;2;0;0;0;0;0');
    expect(lines).toContain('Cabinet;0;0;1;0;0;0');
    expect(lines).toContain('Dr Camille DOCTEUR-ESSAI;pr-1;Total;2;0;1;0;0;0');
    expect(lines).toContain('Urgent;1;1;1234;1234;1234');
    expect(lines).toContain('Routine;0;0;;;');
    expect(lines).toContain('ERR_CONNECTOR_REJECTED;Envoi;2');
    expect(lines).toContain("'=Logiciel;l-1;Cabinet;memory;oui;2026-11-24 06:00:00;300;;1;0;2;60");
  });

  it('names the file after the practice and the local bounds, with nothing unsafe in it', () => {
    expect(reportFilename(report)).toBe('passerelle-activite-cab_1-2026-11-23-2026-11-24.csv');
    expect(
      reportFilename({
        ...report,
        period: { from: '2026-11-23T08:30:00.000Z', to: '2026-11-23T23:00:00.000Z' },
      }),
    ).toBe('passerelle-activite-cab_1-2026-11-23T0930-2026-11-24.csv');
  });
});
