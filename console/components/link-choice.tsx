/**
 * The links of the practice shown (GET /api/v1/links, src/api/routes/practices.ts LinkView) and
 * a labelled select to pick one: the message browser and the profile pages start from a link.
 */
import { getJson, query } from '../api.js';
import { useConsole } from '../context.js';
import { type Loaded, useLoad } from '../data.js';
import { t } from '../i18n/index.js';

export interface LinkSummary {
  readonly id: string;
  readonly practiceId: string;
  readonly role: 'practice' | 'secretariat';
  readonly connector: string;
  readonly name: string;
  readonly profile: string | null;
  readonly enabled: boolean;
}

/** The links the session may see, of the practice chosen in the header (all when none is). */
export function useLinks(): Loaded<{ items: LinkSummary[] }> {
  const { practiceId } = useConsole();
  return useLoad(
    () => getJson<{ items: LinkSummary[] }>(`/api/v1/links${query({ practiceId })}`),
    [practiceId],
  );
}

/** « Maison de santé du Parc — Logiciel HL7 (HL7 v2) » */
export function linkLabel(link: LinkSummary, practices: readonly { id: string; name: string }[]): string {
  const connector = t(`commun.connecteurs.${link.connector}` as 'commun.connecteurs.fhir');
  const practice = practices.find((p) => p.id === link.practiceId)?.name;
  return `${practice ? `${practice} — ` : ''}${link.name} (${connector})`;
}

export function LinkSelect(props: {
  id: string;
  label: string;
  links: readonly LinkSummary[];
  value: string;
  onChange: (id: string) => void;
}) {
  const { practices } = useConsole();
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {props.links.map((l) => (
          <option key={l.id} value={l.id}>
            {linkLabel(l, practices)}
          </option>
        ))}
      </select>
    </div>
  );
}
