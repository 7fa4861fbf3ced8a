import type { AuditEvent } from '../store/types.js';

/**
 * The audit trail as FHIR R4 AuditEvent resources shaped after IHE Basic Audit Log Patterns
 * (BALP 1.1.x, https://profiles.ihe.net/ITI/BALP/, Volume 3 §5.7 "RESTful activities" and the
 * profiles IHE.BasicAudit.Create/Read/Update/Delete and their Patient* variants), as followed:
 * - `type` = audit-event-type#rest for API calls (DICOM 110100 "Application Activity" for the
 *   rest), `subtype` = the FHIR restful-interaction (create/read/update/delete/operation) plus
 *   passerelle's own action code, `action` C/R/U/D/E;
 * - `recorded`, `outcome` 0 (success) / 4 (minor failure: denied) / 8 (serious failure);
 * - `agent`: the requestor (BALP's client, DICOM 110153 "Source Role ID", `requestor: true`,
 *   its API role in `role`) and passerelle itself (DICOM 110152 "Destination Role ID");
 * - `source.observer` = this passerelle instance, `source.type` = security-source-type#4
 *   (Application Server), `source.site` = the practice;
 * - `entity`: the resource acted on (audit-entity-type#2 System Object, object-role#4 Domain
 *   Resource), the patient when known (audit-entity-type#1 Person, object-role#1 Patient: BALP's
 *   "patient" slice), and the request id (BALP's BasicAuditEntityType#XrequestId).
 */

const FHIR_TYPES = new Set([
  'Patient',
  'Practitioner',
  'Appointment',
  'Schedule',
  'Slot',
  'Communication',
  'HealthcareService',
  'Organization',
  'Location',
]);
const ACTION_SYSTEM = 'urn:passerelle:audit-action';

export type BalpAction = 'C' | 'R' | 'U' | 'D' | 'E';

const HTTP_ACTIONS: Readonly<Record<string, BalpAction>> = {
  GET: 'R',
  POST: 'C',
  PUT: 'U',
  PATCH: 'U',
  DELETE: 'D',
};
const VERB_ACTIONS: readonly (readonly [RegExp, BalpAction])[] = [
  [/(^|\.)(read|list|export|fetch)$/, 'R'],
  [/(^|\.)(create|add|issue)$/, 'C'],
  [/(^|\.)(update|put|apply|activate|enable-full|disable-full|rotate|patch)$/, 'U'],
  [/(^|\.)(delete|revoke|discard|erase|purge)$/, 'D'],
];

/** passerelle's action names (`practice.create`, `sync.apply`, `GET /api/v1/…`) to FHIR's C/R/U/D/E. */
export function balpAction(action: string): BalpAction {
  const http = /^([A-Z]+) \//.exec(action)?.[1];
  if (http) return HTTP_ACTIONS[http] ?? 'E';
  for (const [re, a] of VERB_ACTIONS) if (re.test(action)) return a;
  return 'E';
}

const INTERACTION: Readonly<Record<BalpAction, string>> = {
  C: 'create',
  R: 'read',
  U: 'update',
  D: 'delete',
  E: 'operation',
};
const OUTCOME: Readonly<Record<AuditEvent['outcome'], string>> = { success: '0', denied: '4', failure: '8' };

const reference = (type: string, id: string) =>
  FHIR_TYPES.has(type)
    ? { reference: `${type}/${id}` }
    : { type, identifier: { system: `urn:passerelle:${type}`, value: id } };

export function toFhirAuditEvent(e: AuditEvent, observer: string): Record<string, unknown> {
  const action = balpAction(e.action);
  const api = e.via === 'api';
  const entity: Record<string, unknown>[] = [];
  if (e.resourceType !== null && e.resourceId !== null) {
    entity.push({
      what: reference(e.resourceType, e.resourceId),
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '2',
        display: 'System Object',
      },
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '4',
        display: 'Domain Resource',
      },
      ...(Object.keys(e.details).length > 0 && {
        detail: [{ type: 'details', valueString: JSON.stringify(e.details) }],
      }),
    });
  } else if (Object.keys(e.details).length > 0) {
    entity.push({
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '2',
        display: 'System Object',
      },
      detail: [{ type: 'details', valueString: JSON.stringify(e.details) }],
    });
  }
  if (e.patientId !== null) {
    entity.push({
      what: { reference: `Patient/${e.patientId}` },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '1',
        display: 'Person',
      },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  if (e.requestId !== null) {
    entity.push({
      what: { identifier: { value: e.requestId } },
      type: {
        system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
        code: 'XrequestId',
        display: 'X-Request-Id',
      },
    });
  }
  return {
    resourceType: 'AuditEvent',
    id: String(e.seq),
    type: api
      ? {
          system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
          code: 'rest',
          display: 'Restful Operation',
        }
      : {
          system: 'http://dicom.nema.org/resources/ontology/DCM',
          code: '110100',
          display: 'Application Activity',
        },
    subtype: [
      ...(api ? [{ system: 'http://hl7.org/fhir/restful-interaction', code: INTERACTION[action] }] : []),
      { system: ACTION_SYSTEM, code: e.action },
      // Through which path (api, mllp, ical, webhook, cli…): design rule 11.
      ...(e.via !== null ? [{ system: 'urn:passerelle:audit-via', code: e.via }] : []),
    ],
    action,
    recorded: e.at,
    outcome: OUTCOME[e.outcome],
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://dicom.nema.org/resources/ontology/DCM',
              code: '110153',
              display: 'Source Role ID',
            },
          ],
        },
        ...(e.role !== null && { role: [{ text: e.role }] }),
        who: { identifier: { system: 'urn:passerelle:actor', value: e.actor } },
        requestor: true,
      },
      {
        type: {
          coding: [
            {
              system: 'http://dicom.nema.org/resources/ontology/DCM',
              code: '110152',
              display: 'Destination Role ID',
            },
          ],
        },
        who: { display: observer },
        requestor: false,
      },
    ],
    source: {
      ...(e.practiceId !== null && { site: e.practiceId }),
      observer: { display: observer },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    ...(entity.length > 0 && { entity }),
  };
}

/** A FHIR R4 Bundle (`collection`) of the events, in chain order. */
export function toFhirAuditBundle(
  events: readonly AuditEvent[],
  observer: string,
  now: Date,
  next?: string,
): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: now.toISOString(),
    ...(next !== undefined && { link: [{ relation: 'next', url: next }] }),
    entry: events.map((e) => ({
      fullUrl: `urn:passerelle:audit-event:${e.seq}`,
      resource: toFhirAuditEvent(e, observer),
    })),
  };
}
