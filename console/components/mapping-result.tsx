/**
 * What a mapping profile made of one message (src/mapping/dry-run.ts DryRunResult): the
 * canonical records, flags and issues, the rendering back the other way, and the rule-by-rule
 * report. Shared by the message page (the running profile, or a draft) and the profile page.
 */
import { t } from '../i18n/index.js';
import { Badge } from './common.js';

export interface FieldReport {
  readonly rule: string;
  readonly kind: string | null;
  readonly protocolPath: string | null;
  readonly canonicalPath: string | null;
  readonly status: 'mapped' | 'defaulted' | 'unmapped' | 'error';
  readonly code?: string;
  readonly note?: string;
  readonly profile?: string;
}

export interface MappedRecord {
  readonly kind: string;
  readonly externalId: string;
  readonly deleted?: boolean;
  readonly data: unknown;
}

export interface DryRunResult {
  readonly ok: boolean;
  readonly direction: string;
  readonly protocol: string;
  readonly messageType?: string;
  readonly records: readonly MappedRecord[];
  readonly rendered?: {
    readonly event: string;
    readonly messageType?: string;
    readonly hl7?: string;
    readonly fhir?: unknown;
  };
  readonly report: readonly FieldReport[];
  readonly renderReport?: readonly FieldReport[];
  readonly flags: readonly string[];
  readonly issues: readonly { readonly path: string; readonly message: string; readonly code?: string }[];
  readonly error?: { readonly code: string; readonly message: string };
}

export interface MappingProfileRef {
  readonly name: string;
  readonly source: 'custom' | 'shipped' | 'request';
  readonly version?: number | null;
}

/** HL7 text with one segment per line (segments end in CR). */
export function hl7Lines(text: string): string {
  return text.replace(/\r\n|\r/g, '\n').replace(/\n$/, '');
}

export function MappingResult(props: {
  profile?: MappingProfileRef | undefined;
  result: DryRunResult | null;
  unavailable?: { readonly code: string; readonly message: string } | undefined;
  /** Distinguishes the ids of two results on one page. */
  idPrefix: string;
}) {
  const { result, profile } = props;
  const sourceLabel = profile
    ? `${t(`profils.sources.${profile.source}`)}${profile.version ? `, ${t('profils.versionN', { n: profile.version })}` : ''}`
    : '';
  const count = (s: FieldReport['status']) => result?.report.filter((r) => r.status === s).length ?? 0;
  return (
    <div class="mapping-result" data-ok={result ? String(result.ok) : 'none'}>
      {profile && <p>{t('profils.resultat.profilUtilise', { nom: profile.name, source: sourceLabel })}</p>}
      {!result && props.unavailable && (
        <p>
          <Badge tone="neutral">
            {t('profils.resultat.indisponible', { raison: props.unavailable.message })}
          </Badge>{' '}
          <code>{props.unavailable.code}</code>
        </p>
      )}
      {result && (
        <>
          <p>
            <Badge tone={result.ok ? 'ok' : 'bad'}>
              {result.ok ? t('profils.resultat.ok') : t('profils.resultat.echec')}
            </Badge>{' '}
            {result.messageType && t('profils.resultat.typeMessage', { type: result.messageType })}
          </p>
          {result.error && (
            <p class="error-box" role="status">
              {result.error.message} <span class="code">({result.error.code})</span>
            </p>
          )}
          {result.issues.length > 0 && (
            <>
              <h3>{t('profils.resultat.problemes')}</h3>
              <ul>
                {result.issues.map((i, k) => (
                  <li key={k}>
                    <code>{i.path}</code> : {i.message}
                    {i.code && <span class="code"> ({i.code})</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
          {result.flags.length > 0 && (
            <p>
              {t('profils.resultat.signalements')} :{' '}
              {result.flags.map((f) => (
                <span key={f}>
                  <Badge tone="warn">{f}</Badge>{' '}
                </span>
              ))}
            </p>
          )}
          <h3>{t('profils.resultat.enregistrements')}</h3>
          {result.records.length === 0 ? (
            <p>{t('profils.resultat.aucunEnregistrement')}</p>
          ) : (
            <ul class="records">
              {result.records.map((r, k) => (
                <li key={`${r.kind}-${r.externalId}-${k}`}>
                  <details>
                    <summary>
                      <strong>{r.kind}</strong> <code>{r.externalId}</code>
                    </summary>
                    <pre
                      aria-label={t('profils.resultat.detailJson', { genre: r.kind, id: r.externalId })}
                      tabIndex={0}
                    >
                      {JSON.stringify(r.data, null, 2)}
                    </pre>
                  </details>
                </li>
              ))}
            </ul>
          )}
          {result.rendered && (result.rendered.hl7 || result.rendered.fhir !== undefined) && (
            <details>
              <summary>{t('profils.resultat.rendu', { evenement: result.rendered.event })}</summary>
              <pre tabIndex={0}>
                {result.rendered.hl7
                  ? hl7Lines(result.rendered.hl7)
                  : JSON.stringify(result.rendered.fhir, null, 2)}
              </pre>
            </details>
          )}
          {result.report.length > 0 && (
            <details>
              <summary>
                {t('profils.resultat.regles', {
                  mappees: count('mapped') + count('defaulted'),
                  vides: count('unmapped'),
                  erreurs: count('error'),
                })}
              </summary>
              <table class="report">
                <caption class="visually-hidden">{t('profils.resultat.reglesTableau')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('profils.resultat.regle')}</th>
                    <th scope="col">{t('profils.resultat.cheminProtocole')}</th>
                    <th scope="col">{t('profils.resultat.cheminCanonique')}</th>
                    <th scope="col">{t('profils.resultat.statut')}</th>
                  </tr>
                </thead>
                <tbody>
                  {result.report.map((r, k) => (
                    <tr key={`${props.idPrefix}-${k}`} class={r.status === 'error' ? 'attention' : undefined}>
                      <td>{r.rule === '(not in profile)' ? t('profils.resultat.horsProfil') : r.rule}</td>
                      <td>
                        <code>{r.protocolPath ?? '—'}</code>
                      </td>
                      <td>
                        <code>
                          {r.canonicalPath
                            ? r.kind
                              ? `${r.kind}.${r.canonicalPath}`
                              : r.canonicalPath
                            : '—'}
                        </code>
                      </td>
                      <td>
                        {t(`profils.resultat.statuts.${r.status}`)}
                        {r.note && ` (${r.note})`}
                        {r.code && <span class="code"> {r.code}</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </>
      )}
    </div>
  );
}
