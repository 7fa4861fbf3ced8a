/**
 * `passerelle link test <id>` for a FHIR link: connects with the link's own configuration and
 * credentials, reads the CapabilityStatement (FHIR R4 capabilitystatement.html), checks every
 * interaction and search parameter the link's profile needs — for the kinds it pulls and the
 * kinds it writes — and probes the result parameters servers seldom declare (`_count`, `_sort`)
 * with a real one-entry search. The checklist is printed in French and English; anything
 * required that is missing makes the command exit 1.
 */
import type { Bundle, CapabilityStatement } from '@medplum/fhirtypes';

import type { LinkMapping } from '../../src/connector/contract.js';
import { isPasserelleError } from '../../src/errors.js';
import type { ResourceKind } from '../../src/model/resources.js';
import { readCapabilities, type ServerCapabilities, type TypeInteraction } from './capabilities.js';
import type { FhirClient } from './client/index.js';
import { type FhirConfig, pullKinds } from './config.js';

export interface CheckItem {
  /** The section: `server`, or a resource type with the direction. */
  readonly section: string;
  readonly label: string;
  readonly ok: boolean;
  /** Optional items (deletions through _history, Subscription) never fail the test. */
  readonly required: boolean;
  readonly detail?: string;
}

export interface LinkTestReport {
  readonly baseUrl: string;
  readonly server: string | undefined;
  readonly fhirVersion: string | undefined;
  readonly items: readonly CheckItem[];
  /** Every required item is there. */
  readonly ok: boolean;
}

const INTERACTION_LABEL: Readonly<Record<TypeInteraction, string>> = {
  read: 'read (lecture par id / read by id)',
  vread: 'vread',
  update: 'update (PUT Type/id)',
  delete: 'delete',
  'history-instance': 'history-instance',
  'history-type': 'history-type (suppressions / deletions)',
  create: 'create (POST Type)',
  'search-type': 'search-type (recherche / search)',
};

/** One-entry searches that show whether the server honours `_count` and sorts on `_lastUpdated`. */
async function probe(
  client: FhirClient,
  type: ResourceKind,
  sort: string,
): Promise<{ ok: boolean; detail?: string }> {
  try {
    const bundle = (await client.search(type, { _count: 2, _sort: sort })).resource as Bundle;
    const times = (bundle.entry ?? []).map((e) => Date.parse(e.resource?.meta?.lastUpdated ?? ''));
    if (times.length > 2)
      return { ok: false, detail: `_count=2 ignoré / ignored (${times.length} entrées / entries)` };
    const [a, b] = times;
    if (
      a !== undefined &&
      b !== undefined &&
      !Number.isNaN(a) &&
      !Number.isNaN(b) &&
      (sort.startsWith('-') ? a < b : a > b)
    ) {
      return { ok: false, detail: 'ordre non respecté / not in order' };
    }
    return { ok: true };
  } catch (e) {
    return { ok: false, detail: isPasserelleError(e) ? `${e.code}: ${e.message}` : 'échec / failed' };
  }
}

export async function runLinkTest(
  client: FhirClient,
  mapping: LinkMapping,
  config: FhirConfig,
  options: { pushKinds: readonly ResourceKind[] },
): Promise<LinkTestReport> {
  const items: CheckItem[] = [];
  const add = (section: string, label: string, ok: boolean, required = true, detail?: string) =>
    items.push({ section, label, ok, required, ...(detail !== undefined && { detail }) });
  let caps: ServerCapabilities;
  try {
    const cs = (await client.capabilities()).resource as CapabilityStatement;
    if (cs.resourceType !== 'CapabilityStatement') throw new Error('not a CapabilityStatement');
    caps = readCapabilities(cs);
    add('server', 'CapabilityStatement lue / read (GET /metadata)', true);
  } catch (e) {
    add(
      'server',
      'CapabilityStatement lue / read (GET /metadata)',
      false,
      true,
      isPasserelleError(e) ? `${e.code}: ${e.message}` : 'illisible / unreadable',
    );
    return { baseUrl: client.baseUrl, server: undefined, fhirVersion: undefined, items, ok: false };
  }
  add(
    'server',
    'FHIR R4 (4.0.x)',
    caps.fhirVersion?.startsWith('4.0') === true,
    true,
    caps.fhirVersion === undefined ? 'version absente / missing' : `fhirVersion ${caps.fhirVersion}`,
  );
  if (config.subscription.enabled) {
    add(
      'server',
      'Subscription rest-hook (notifications)',
      caps.restHookSubscriptions(),
      false,
      caps.restHookSubscriptions() ? undefined : 'le sondage seul suffit / polling alone will do',
    );
  }

  const { plan } = mapping;
  const pulled = pullKinds(config).filter((k) => plan.kinds[k]?.inbound === true);
  for (const kind of pulled) {
    const section = `${kind} — lecture / pull`;
    if (!caps.has(kind)) {
      add(section, `type ${kind} servi / served`, false);
      continue;
    }
    add(section, INTERACTION_LABEL['search-type'], caps.interaction(kind, 'search-type'));
    add(section, 'paramètre / parameter _lastUpdated', caps.searchParam(kind, '_lastUpdated'));
    const asc = await probe(client, kind, '_lastUpdated');
    add(section, '_count + _sort=_lastUpdated (essai / probe)', asc.ok, true, asc.detail);
    const desc = await probe(client, kind, '-_lastUpdated');
    add(section, '_sort=-_lastUpdated (essai / probe)', desc.ok, true, desc.detail);
    if (config.history === 'auto') {
      add(
        section,
        INTERACTION_LABEL['history-type'],
        caps.interaction(kind, 'history-type'),
        false,
        caps.interaction(kind, 'history-type')
          ? undefined
          : 'sans elle, les suppressions sont trouvées par une vérification périodique des identifiants connus / without it, deletions are found by a periodic check of the known ids',
      );
    }
  }

  const written = options.pushKinds.filter((k) => plan.kinds[k]?.outbound === true);
  for (const kind of written) {
    const section = `${kind} — écriture / push`;
    if (!caps.has(kind)) {
      add(section, `type ${kind} servi / served`, false);
      continue;
    }
    add(section, INTERACTION_LABEL.read, caps.interaction(kind, 'read'));
    add(section, INTERACTION_LABEL.update, caps.interaction(kind, 'update'));
    add(section, 'If-Match (versioning = versioned-update)', caps.versionedUpdate(kind));
    add(section, 'paramètre / parameter identifier', caps.searchParam(kind, 'identifier'));
    if (kind === 'Appointment') {
      // ANS flow 6b: conditional update on the business identifier; a conditional create will do.
      const cu = caps.conditionalUpdate(kind);
      const cc = caps.interaction(kind, 'create') && caps.conditionalCreate(kind);
      add(
        section,
        'conditional update (PUT Appointment?identifier=…)',
        cu || cc,
        true,
        cu
          ? undefined
          : cc
            ? 'absent : If-None-Exist sera utilisé / missing: If-None-Exist will be used'
            : 'ni conditional update ni conditional create / neither conditional update nor conditional create',
      );
    } else {
      add(section, INTERACTION_LABEL.create, caps.interaction(kind, 'create'));
      add(section, 'conditional create (If-None-Exist)', caps.conditionalCreate(kind));
    }
  }

  return {
    baseUrl: client.baseUrl,
    server: caps.software,
    fhirVersion: caps.fhirVersion,
    items,
    ok: items.every((i) => i.ok || !i.required),
  };
}

/** The checklist as printed: ✓ / ✗ per line, grouped by section, with a summary. */
export function formatLinkTest(report: LinkTestReport, heading: string): string {
  const lines = [
    heading,
    `Serveur / server: ${report.baseUrl}${report.server ? ` — ${report.server}` : ''}${report.fhirVersion ? `, FHIR ${report.fhirVersion}` : ''}`,
  ];
  let section = '';
  for (const i of report.items) {
    if (i.section !== section) {
      section = i.section;
      lines.push('', section === 'server' ? 'Serveur / server' : section);
    }
    const mark = i.ok ? '✓' : i.required ? '✗' : '–';
    const note = i.ok
      ? i.detail
        ? ` (${i.detail})`
        : ''
      : ` — ${i.required ? 'manquant / missing' : 'optionnel, absent / optional, missing'}${i.detail ? `: ${i.detail}` : ''}`;
    lines.push(`  ${mark} ${i.label}${note}`);
  }
  const ok = report.items.filter((i) => i.ok).length;
  const missing = report.items.filter((i) => !i.ok && i.required).length;
  const optional = report.items.filter((i) => !i.ok && !i.required).length;
  lines.push(
    '',
    `Résumé / summary: ${ok} ✓, ${missing} ✗ requis / required, ${optional} optionnel${optional > 1 ? 's' : ''} absent${optional > 1 ? 's' : ''} / optional missing — ${report.ok ? 'le lien peut fonctionner / the link can work' : 'le lien ne peut pas fonctionner tel quel / the link cannot work as it is'}`,
  );
  return lines.join('\n');
}
