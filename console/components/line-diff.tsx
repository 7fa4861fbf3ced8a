/**
 * A line diff of two texts (two versions of a mapping profile): the longest common subsequence
 * of their lines, shown as a unified listing where removed lines are marked « − » and added ones
 * « + » — by sign and text as well as colour. Profiles are a few hundred lines, so the O(n·m)
 * table stays small; past MAX_CELLS the diff falls back to « everything changed ».
 */
import { t } from '../i18n/index.js';

export type DiffOp = 'same' | 'removed' | 'added';

export interface DiffLine {
  readonly op: DiffOp;
  readonly text: string;
  /** Line number in the old text (removed, same) and in the new one (added, same). */
  readonly oldLine: number | null;
  readonly newLine: number | null;
}

const MAX_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The lines of `before` and `after`, each marked same, removed or added, in reading order. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  // Common head and tail first: most versions differ in a few lines.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++)
    out.push({ op: 'same', text: a[i] as string, oldLine: i + 1, newLine: i + 1 });
  const n = midA.length;
  const m = midB.length;
  if (n * m > MAX_CELLS) {
    midA.forEach((text, i) => out.push({ op: 'removed', text, oldLine: head + i + 1, newLine: null }));
    midB.forEach((text, j) => out.push({ op: 'added', text, oldLine: null, newLine: head + j + 1 }));
  } else {
    // lcs[i][j]: length of the LCS of midA[i..] and midB[j..], in one flat array.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i * w + j] =
          midA[i] === midB[j]
            ? (lcs[(i + 1) * w + j + 1] as number) + 1
            : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        out.push({ op: 'same', text: midA[i] as string, oldLine: head + i + 1, newLine: head + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || (lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number))) {
        // Removed before added, so a changed line reads « − old » then « + new ».
        out.push({ op: 'removed', text: midA[i] as string, oldLine: head + i + 1, newLine: null });
        i++;
      } else {
        out.push({ op: 'added', text: midB[j] as string, oldLine: null, newLine: head + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < tail; k++) {
    const oi = a.length - tail + k;
    const ni = b.length - tail + k;
    out.push({ op: 'same', text: a[oi] as string, oldLine: oi + 1, newLine: ni + 1 });
  }
  return out;
}

const SIGN: Record<DiffOp, string> = { same: ' ', removed: '−', added: '+' };

/**
 * The diff as a listing; unchanged runs longer than 2 × `context` lines are folded to their
 * edges with a « n lignes identiques » marker.
 */
export function LineDiff(props: { before: string; after: string; caption: string; context?: number }) {
  const lines = diffLines(props.before, props.after);
  const context = props.context ?? 3;
  const removed = lines.filter((l) => l.op === 'removed').length;
  const added = lines.filter((l) => l.op === 'added').length;
  const rows: ({ kind: 'line'; line: DiffLine } | { kind: 'fold'; count: number })[] = [];
  for (let i = 0; i < lines.length;) {
    if ((lines[i] as DiffLine).op !== 'same') {
      rows.push({ kind: 'line', line: lines[i] as DiffLine });
      i++;
      continue;
    }
    let end = i;
    while (end < lines.length && (lines[end] as DiffLine).op === 'same') end++;
    const keepHead = i === 0 ? 0 : context;
    const keepTail = end === lines.length ? 0 : context;
    if (end - i > keepHead + keepTail + 1) {
      for (let k = i; k < i + keepHead; k++) rows.push({ kind: 'line', line: lines[k] as DiffLine });
      rows.push({ kind: 'fold', count: end - i - keepHead - keepTail });
      for (let k = end - keepTail; k < end; k++) rows.push({ kind: 'line', line: lines[k] as DiffLine });
    } else {
      for (let k = i; k < end; k++) rows.push({ kind: 'line', line: lines[k] as DiffLine });
    }
    i = end;
  }
  return (
    <figure class="line-diff" tabIndex={0}>
      <figcaption>
        {props.caption}{' '}
        <span class="diff-counts">
          {removed === 0 && added === 0
            ? t('profils.diff.identiques')
            : t('profils.diff.compte', { retirees: removed, ajoutees: added })}
        </span>
      </figcaption>
      <table>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              {t('profils.diff.avant')}
            </th>
            <th scope="col" class="num">
              {t('profils.diff.apres')}
            </th>
            <th scope="col">
              <span class="visually-hidden">{t('profils.diff.changement')}</span>
            </th>
            <th scope="col">{t('profils.diff.ligne')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, k) =>
            r.kind === 'fold' ? (
              <tr key={`f${k}`} class="diff-fold">
                <td colSpan={4}>{t('profils.diff.lignesIdentiques', { n: r.count })}</td>
              </tr>
            ) : (
              <tr key={`l${k}`} class={`diff-${r.line.op}`} data-op={r.line.op}>
                <td class="num">{r.line.oldLine ?? ''}</td>
                <td class="num">{r.line.newLine ?? ''}</td>
                <td class="diff-sign">
                  <span aria-hidden="true">{SIGN[r.line.op]}</span>
                  <span class="visually-hidden">
                    {r.line.op === 'same'
                      ? ''
                      : r.line.op === 'added'
                        ? t('profils.diff.ajoutee')
                        : t('profils.diff.retiree')}
                  </span>
                </td>
                <td>
                  <code>{r.line.text === '' ? ' ' : r.line.text}</code>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </figure>
  );
}
