/**
 * What a mapping run says about each rule: mapped, defaulted, left unmapped, or in error. Paths
 * only, never values (reports are logged, returned by the dry-run API and printed by the CLI).
 */
import type { ErrorCode } from '../../errors.js';
import type { ResourceKind } from '../../model/resources.js';

export const FIELD_STATUSES = ['mapped', 'defaulted', 'unmapped', 'error'] as const;
export type FieldStatus = (typeof FIELD_STATUSES)[number];

export interface FieldReport {
  /** `Appointment.fields[3]`, a rule name, `Appointment.id`, or `(not in profile)` for input the profile does not read. */
  readonly rule: string;
  readonly kind: ResourceKind | null;
  readonly protocolPath: string | null;
  readonly canonicalPath: string | null;
  readonly status: FieldStatus;
  /** Error code, or what happened (`constant`, `default`, `condition not met`…). */
  readonly code?: ErrorCode | undefined;
  readonly note?: string | undefined;
  /** For a profile that extends another: the profile the rule comes from (`extends:`). */
  readonly profile?: string | undefined;
}

/**
 * A fixed-width text table: `rule | protocol path | canonical path | status`, with a `profile`
 * column after the rule when the profile extends another (where each rule was written).
 */
export function formatReportTable(report: readonly FieldReport[]): string {
  const origins = report.some((r) => r.profile !== undefined);
  const head = ['rule', ...(origins ? ['profile'] : []), 'protocol path', 'canonical path', 'status'];
  const rows = report.map((r) => [
    r.rule,
    ...(origins ? [r.profile ?? '—'] : []),
    r.protocolPath ?? '—',
    r.canonicalPath ? (r.kind ? `${r.kind}.${r.canonicalPath}` : r.canonicalPath) : '—',
    `${r.status}${r.note ? ` (${r.note})` : ''}${r.code ? ` ${r.code}` : ''}`,
  ]);
  const widths = head.map((h, i) =>
    Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] as string).length))),
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join(' | ');
  const sep = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? Math.max(w, 6) : w)).join('-+-');
  const counts = FIELD_STATUSES.map((s) => `${report.filter((r) => r.status === s).length} ${s}`).join(', ');
  return [line(head), sep, ...rows.map(line), '', counts].join('\n');
}
