/**
 * Agendas iCal: the practice's feeds (GET /api/v1/ical/tokens), one per practitioner or for the
 * whole practice, with a privacy level; rotate and revoke. The feed URL holds the secret and
 * comes back only when a feed is created or rotated: it is shown then, with « Copier l’adresse »
 * (Clipboard API, else the URL selected in a read-only field) and a QR code from the server.
 * Routes: src/api/routes/ical-tokens.ts.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { practitionerLabel, practitionerName, usePractitioners } from '../components/practitioners.js';
import { type Practice, useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { formatDateTime, t } from '../i18n/index.js';
import { can } from '../session.js';

type Privacy = 'busy' | 'initials' | 'full';

/** FeedTokenViewSchema of src/api/routes/ical-tokens.ts (never the secret). */
export interface Feed {
  readonly id: string;
  readonly practiceId: string;
  readonly practitionerId: string | null;
  readonly label: string | null;
  readonly privacy: Privacy;
  readonly fullAllowed: boolean;
  readonly status: 'active' | 'revoked' | 'expired';
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
  readonly expiresAt: string | null;
  readonly unusedExpiryDays: number | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** The create and rotate answers: the feed, its URL (shown once), and its QR code when the server draws one. */
interface Issued {
  readonly feed: Feed;
  readonly url: string;
  readonly qrSvg?: string;
  readonly qr?: { readonly svg?: string } | string;
}

interface PractitionerOption {
  readonly id: string;
  readonly label: string;
}

const STATUS_TONE: Record<Feed['status'], Tone> = { active: 'ok', revoked: 'neutral', expired: 'warn' };

function qrOf(issued: Issued): string | null {
  if (typeof issued.qrSvg === 'string') return issued.qrSvg;
  if (typeof issued.qr === 'string') return issued.qr;
  if (issued.qr && typeof issued.qr.svg === 'string') return issued.qr.svg;
  return null;
}

/** The URL once: read-only selectable field, copy button (with its fallback), QR code. */
function IssuedUrl(props: { issued: Issued; onClose: () => void }) {
  const { issued } = props;
  const field = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const [copy, setCopy] = useState<'idle' | 'done' | 'failed'>('idle');
  const [failures, setFailures] = useState(0);
  const qr = qrOf(issued);
  useEffect(() => heading.current?.focus(), [issued.url]);
  // No Clipboard API (plain http, refused permission): the address is selected for Ctrl+C, once
  // the message is shown.
  useEffect(() => {
    if (failures === 0) return;
    field.current?.focus();
    field.current?.select();
  }, [failures]);
  const doCopy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(issued.url);
      setCopy('done');
    } catch {
      setCopy('failed');
      setFailures((n) => n + 1);
    }
  };
  return (
    <section class="issued" aria-labelledby="adresse-emise" data-feed={issued.feed.id}>
      <h2 id="adresse-emise" tabIndex={-1} ref={heading}>
        {t('agendas.adresseTitre', { libelle: issued.feed.label ?? t('agendas.sansLibelle') })}
      </h2>
      <p class="notice-warn">{t('agendas.adresseUneFois')}</p>
      <div class="field field-wide">
        <label for="adresse-flux">{t('agendas.adresse')}</label>
        <input
          id="adresse-flux"
          ref={field}
          type="text"
          readOnly
          value={issued.url}
          spellcheck={false}
          onFocus={(e) => (e.target as HTMLInputElement).select()}
        />
      </div>
      <div class="form-actions">
        <button type="button" onClick={() => void doCopy()}>
          {t('agendas.copier')}
        </button>
        <button type="button" class="secondary" onClick={props.onClose}>
          {t('agendas.masquer')}
        </button>
      </div>
      <p
        role="status"
        class={copy === 'failed' ? 'notice-warn' : copy === 'done' ? 'notice' : 'visually-hidden'}
      >
        {copy === 'done' ? t('agendas.copiee') : copy === 'failed' ? t('agendas.copieImpossible') : ''}
      </p>
      {qr ? (
        <figure class="qr">
          <img
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr)}`}
            alt={t('agendas.qr')}
            width={200}
            height={200}
          />
          <figcaption class="help">{t('agendas.qrAide')}</figcaption>
        </figure>
      ) : (
        <p class="help">{t('agendas.qrIndisponible')}</p>
      )}
    </section>
  );
}

function CreateFeed(props: {
  practices: readonly Practice[];
  practiceId: string | null;
  options: readonly PractitionerOption[];
  admin: boolean;
  onIssued: (i: Issued) => void;
}) {
  const [practiceId, setPracticeId] = useState(props.practiceId ?? '');
  const [who, setWho] = useState<string>(props.options[0]?.id ?? '');
  const [otherId, setOtherId] = useState('');
  const [label, setLabel] = useState('');
  const [privacy, setPrivacy] = useState<Privacy>('busy');
  const [error, setError] = useState<Error | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => setPracticeId(props.practiceId ?? ''), [props.practiceId]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaving(true);
    const practitionerId = who === '*' ? null : who === '+' ? otherId.trim() : who;
    try {
      const issued = await sendJson<Issued>('POST', '/api/v1/ical/tokens', {
        body: {
          practiceId,
          practitionerId,
          label: label.trim() === '' ? null : label.trim(),
          privacy,
        },
      });
      setLabel('');
      props.onIssued(issued);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form class="feed-form" noValidate onSubmit={submit} aria-labelledby="nouveau-flux">
      <h2 id="nouveau-flux">{t('agendas.nouveau')}</h2>
      {error && <ErrorBox error={error} />}
      {props.practiceId === null && (
        <div class="field">
          <label for="flux-cabinet">{t('agendas.cabinet')}</label>
          <select
            id="flux-cabinet"
            value={practiceId}
            onChange={(e) => setPracticeId((e.target as HTMLSelectElement).value)}
          >
            <option value="">{t('agendas.choisirCabinet')}</option>
            {props.practices.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="field">
        <label for="flux-praticien">{t('agendas.praticien')}</label>
        <select
          id="flux-praticien"
          value={who}
          aria-describedby="flux-praticien-aide"
          onChange={(e) => setWho((e.target as HTMLSelectElement).value)}
        >
          {props.options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label}
            </option>
          ))}
          <option value="*">{t('agendas.toutLeCabinet')}</option>
          <option value="+">{t('agendas.autrePraticien')}</option>
        </select>
        <p class="help" id="flux-praticien-aide">
          {t('agendas.praticiensAide')}
        </p>
      </div>
      {who === '+' && (
        <div class="field">
          <label for="flux-praticien-id">{t('agendas.identifiantPraticien')}</label>
          <input
            id="flux-praticien-id"
            value={otherId}
            spellcheck={false}
            onInput={(e) => setOtherId((e.target as HTMLInputElement).value)}
          />
        </div>
      )}
      <div class="field">
        <label for="flux-libelle">{t('agendas.libelle')}</label>
        <input
          id="flux-libelle"
          value={label}
          aria-describedby="flux-libelle-aide"
          onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
        />
        <p class="help" id="flux-libelle-aide">
          {t('agendas.libelleAide')}
        </p>
      </div>
      <div class="field">
        <label for="flux-confidentialite">{t('agendas.confidentialite')}</label>
        <select
          id="flux-confidentialite"
          value={privacy}
          onChange={(e) => setPrivacy((e.target as HTMLSelectElement).value as Privacy)}
        >
          {(['busy', 'initials', ...(props.admin ? (['full'] as const) : [])] as const).map((p) => (
            <option key={p} value={p}>
              {t(`agendas.niveaux.${p}`)}
            </option>
          ))}
        </select>
      </div>
      <div class="form-actions">
        <button type="submit" disabled={saving || practiceId === ''}>
          {t('agendas.creer')}
        </button>
      </div>
    </form>
  );
}

function FeedRow(props: {
  feed: Feed;
  practitioner: string;
  practiceName: string | null;
  onIssued: (i: Issued) => void;
  onChanged: (message: string | null) => void;
  onError: (e: Error) => void;
  admin: boolean;
}) {
  const f = props.feed;
  const [confirming, setConfirming] = useState(false);
  const [privacy, setPrivacy] = useState<Privacy>(f.privacy);
  const path = `/api/v1/ical/tokens/${encodeURIComponent(f.id)}`;
  const act = async (run: () => Promise<void>) => {
    try {
      await run();
    } catch (e) {
      props.onError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const name = f.label ?? t('agendas.sansLibelle');
  return (
    <tr data-feed={f.id} data-status={f.status}>
      <td>{name}</td>
      <td>{props.practitioner}</td>
      {props.practiceName !== null && <td>{props.practiceName}</td>}
      <td>
        {f.status === 'active' ? (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act(async () => {
                await sendJson('PATCH', path, { body: { privacy } });
                props.onChanged(t('agendas.confidentialiteChangee', { libelle: name }));
              });
            }}
          >
            <label class="visually-hidden" for={`confidentialite-${f.id}`}>
              {t('agendas.confidentialiteDe', { libelle: name })}
            </label>
            <select
              id={`confidentialite-${f.id}`}
              value={privacy}
              onChange={(e) => setPrivacy((e.target as HTMLSelectElement).value as Privacy)}
            >
              {(
                [
                  'busy',
                  'initials',
                  ...(props.admin || f.privacy === 'full' ? (['full'] as const) : []),
                ] as const
              ).map((p) => (
                <option key={p} value={p}>
                  {t(`agendas.niveauxCourts.${p}`)}
                </option>
              ))}
            </select>
            {privacy !== f.privacy && (
              <button type="submit" class="secondary">
                {t('agendas.appliquer')}
              </button>
            )}
          </form>
        ) : (
          t(`agendas.niveauxCourts.${f.privacy}`)
        )}
      </td>
      <td>
        <Badge tone={STATUS_TONE[f.status]}>{t(`agendas.etats.${f.status}`)}</Badge>
      </td>
      <td>{formatDateTime(f.lastUsedAt)}</td>
      <td>{formatDateTime(f.createdAt)}</td>
      <td>
        {f.status === 'active' && (
          <div class="row-actions">
            <button
              type="button"
              class="secondary"
              title={t('agendas.renouvelerAide')}
              aria-label={`${t('agendas.renouveler')} — ${name}`}
              onClick={() =>
                void act(async () => props.onIssued(await sendJson<Issued>('POST', `${path}/rotate`)))
              }
            >
              {t('agendas.renouveler')}
            </button>
            {confirming ? (
              <>
                <button
                  type="button"
                  class="danger"
                  aria-label={`${t('agendas.confirmerRevocation')} — ${name}`}
                  onClick={() =>
                    void act(async () => {
                      await sendJson('DELETE', path);
                      setConfirming(false);
                      props.onChanged(t('agendas.revoque'));
                    })
                  }
                >
                  {t('agendas.confirmerRevocation')}
                </button>
                <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                  {t('commun.annuler')}
                </button>
              </>
            ) : (
              <button
                type="button"
                class="secondary"
                aria-label={`${t('agendas.revoquer')} — ${name}`}
                onClick={() => setConfirming(true)}
              >
                {t('agendas.revoquer')}
              </button>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

export function Feeds() {
  const { session, practices, practiceId } = useConsole();
  const [showRevoked, setShowRevoked] = useState(false);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const feeds = useLoad(
    () =>
      getJson<{ items: Feed[] }>(
        `/api/v1/ical/tokens${query({ practiceId, includeRevoked: showRevoked ? 'true' : null })}`,
      ),
    [practiceId, showRevoked],
  );
  const practitioners = usePractitioners(practiceId);
  const known = practitioners.data?.items ?? [];
  const options = known.map((p) => ({
    id: p.id,
    label:
      practiceId === null
        ? `${practitionerLabel(p)} — ${practices.find((x) => x.id === p.practiceId)?.name ?? p.practiceId}`
        : practitionerLabel(p),
  }));
  const practiceName = (id: string) => practices.find((p) => p.id === id)?.name ?? id;
  const onIssued = (i: Issued) => {
    setNotice(null);
    setError(null);
    setIssued(i);
    feeds.reload();
  };
  return (
    <>
      <PageHeader title={t('agendas.titre')} intro={t('agendas.intro')} />
      {issued && <IssuedUrl issued={issued} onClose={() => setIssued(null)} />}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {feeds.error && <ErrorBox error={feeds.error} retry={feeds.reload} />}
      <div class="filters">
        <div class="field field-inline">
          <div class="check">
            <input
              id="flux-revoques"
              type="checkbox"
              checked={showRevoked}
              onChange={(e) => setShowRevoked((e.target as HTMLInputElement).checked)}
            />
            <label for="flux-revoques">{t('agendas.afficherRevoques')}</label>
          </div>
        </div>
      </div>
      {!feeds.data && !feeds.error && <Loading />}
      {feeds.data?.items.length === 0 && <p>{t('agendas.aucun')}</p>}
      {feeds.data && feeds.data.items.length > 0 && (
        <table class="feeds">
          <caption>{t('agendas.flux')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('agendas.libelle')}</th>
              <th scope="col">{t('agendas.praticien')}</th>
              {practiceId === null && <th scope="col">{t('agendas.cabinet')}</th>}
              <th scope="col">{t('agendas.confidentialite')}</th>
              <th scope="col">{t('agendas.etat')}</th>
              <th scope="col">{t('agendas.derniereUtilisation')}</th>
              <th scope="col">{t('agendas.creeLe')}</th>
              <th scope="col">{t('agendas.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {feeds.data.items.map((f) => (
              <FeedRow
                key={f.id}
                feed={f}
                practitioner={
                  f.practitionerId ? practitionerName(known, f.practitionerId) : t('agendas.toutLeCabinet')
                }
                practiceName={practiceId === null ? practiceName(f.practiceId) : null}
                onIssued={onIssued}
                onChanged={(m) => {
                  setIssued(null);
                  setNotice(m);
                  feeds.reload();
                }}
                onError={setError}
                admin={can(session, 'admin')}
              />
            ))}
          </tbody>
        </table>
      )}
      {feeds.data && (
        <CreateFeed
          key={`${practiceId ?? '*'}-${options.length}`}
          practices={practices}
          practiceId={practiceId}
          options={options}
          admin={can(session, 'admin')}
          onIssued={onIssued}
        />
      )}
    </>
  );
}
