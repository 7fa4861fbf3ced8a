/**
 * The review as a PDF (pdfkit): the same layout as the HTML page, bar charts drawn as vector
 * shapes. The standard Helvetica font is used (no font file to ship): its WinAnsi encoding has
 * every French letter and sign (é à ç œ Œ ’ « » € …), but not the narrow no-break space U+202F
 * that Intl puts in French numbers — `toPdfText` swaps it (and anything else outside WinAnsi)
 * so no glyph comes out garbled.
 */
import PDFDocument from 'pdfkit';

import type { ReviewChart, ReviewLayout, ReviewTable } from './review-layout.js';

/** Characters of Windows-1252 above 0x7F that are not Latin-1 (what Helvetica's encoding adds). */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

export function toPdfText(s: string): string {
  return s
    .replace(/[\u202f\u2009\u2007]/g, '\u00a0')
    .replace(/[≥]/g, '>=')
    .replace(/[≤]/g, '<=')
    .replace(/[^\s\u0020-\u00ff]/gu, (c) => (WIN_ANSI_EXTRA.has(c) ? c : '?'));
}

const COLOURS = ['#1d4ed8', '#f59e0b'];
const MARGIN = 50;

export function reviewPdf(layout: ReviewLayout, info: { readonly createdAt: Date }): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    // A fixed creation date: the same review renders to the same bytes.
    info: { Title: toPdfText(layout.title), Creator: 'passerelle', CreationDate: info.createdAt },
    lang: 'fr-FR',
  } as PDFKit.PDFDocumentOptions);
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const room = (h: number) => {
    if (doc.y + h > doc.page.height - MARGIN) doc.addPage();
  };

  const drawTable = (t: ReviewTable) => {
    const flagged = new Set(t.flagged ?? []);
    const col = width / t.head.length;
    const row = (cells: readonly string[], bold: boolean, missed: boolean) => {
      const h = Math.max(...cells.map((c) => doc.heightOfString(toPdfText(c), { width: col - 6 }))) + 4;
      room(h);
      const y = doc.y;
      if (missed) doc.save().rect(MARGIN, y, width, h).fill('#fee2e2').restore();
      doc
        .font(bold ? 'Helvetica-Bold' : 'Helvetica')
        .fontSize(8)
        .fillColor(missed ? '#7f1d1d' : '#111111');
      cells.forEach((c, i) => doc.text(toPdfText(c), MARGIN + i * col + 3, y + 2, { width: col - 6 }));
      doc.x = MARGIN;
      doc.y = y + h;
    };
    room(30);
    doc.font('Helvetica-Bold').fontSize(9).fillColor('#111111').text(toPdfText(t.caption), MARGIN);
    row(t.head, true, false);
    t.rows.forEach((r, i) => row(r, false, flagged.has(i)));
    doc.moveDown(0.5);
  };

  const drawChart = (c: ReviewChart) => {
    const H = 110;
    room(H + 40);
    doc.font('Helvetica-Bold').fontSize(9).fillColor('#111111').text(toPdfText(c.title), MARGIN);
    const top = doc.y + 4;
    const max = Math.max(1, ...c.series.flatMap((s) => s.values));
    const left = MARGIN + 24;
    const group = c.labels.length === 0 ? width : (width - 24) / c.labels.length;
    const bar = Math.max(0.5, (group * 0.8) / Math.max(1, c.series.length));
    doc
      .font('Helvetica')
      .fontSize(7)
      .fillColor('#555555')
      .text(String(max), MARGIN, top, { lineBreak: false });
    doc
      .moveTo(left, top + H)
      .lineTo(MARGIN + width, top + H)
      .strokeColor('#999999')
      .stroke();
    c.labels.forEach((label, i) => {
      c.series.forEach((s, j) => {
        const v = s.values[i] ?? 0;
        const h = (v / max) * (H - 10);
        if (h > 0)
          doc
            .rect(left + i * group + j * bar, top + H - h, bar, h)
            .fill(COLOURS[j % COLOURS.length] as string);
      });
      if (c.labels.length <= 16 || i % 2 === 0)
        doc
          .fillColor('#333333')
          .fontSize(6)
          .text(toPdfText(label), left + i * group, top + H + 2, {
            width: group,
            align: 'center',
            lineBreak: false,
          });
    });
    let x = MARGIN;
    const legendY = top + H + 12;
    c.series.forEach((s, j) => {
      doc.rect(x, legendY + 1, 6, 6).fill(COLOURS[j % COLOURS.length] as string);
      doc
        .fillColor('#111111')
        .fontSize(7)
        .text(toPdfText(s.name), x + 9, legendY, { lineBreak: false });
      x += 90;
    });
    doc.x = MARGIN;
    doc.y = legendY + 14;
  };

  doc.font('Helvetica-Bold').fontSize(16).fillColor('#111111').text(toPdfText(layout.title));
  doc.font('Helvetica').fontSize(10).text(toPdfText(layout.subtitle));
  for (const s of layout.sections) {
    room(60);
    doc.moveDown(0.8);
    doc.font('Helvetica-Bold').fontSize(13).fillColor('#111111').text(toPdfText(s.title), MARGIN);
    doc.moveDown(0.2);
    for (const p of s.text)
      doc.font('Helvetica').fontSize(9).fillColor('#111111').text(toPdfText(p), MARGIN, undefined, { width });
    doc.moveDown(0.3);
    s.charts.forEach(drawChart);
    s.tables.forEach(drawTable);
  }
  doc.end();
  return done;
}
