/**
 * French identifier systems and codes, as FR Core (hl7.fr.fhir.core) and the ANS
 * "Gestion d'agendas partagés" guide use them. One place, so no OID is typed twice.
 */

/** INS matricule systems (FR Core Patient INS profile, identifier slices). */
export const OID = {
  /** INS-NIR: the NIR used as national health identifier. */
  insNir: 'urn:oid:1.2.250.1.213.1.4.8',
  /** INS-NIA: the temporary identifier given while a NIR is being assigned. */
  insNia: 'urn:oid:1.2.250.1.213.1.4.9',
  /** INS-NIR of test identities (INSi test platform). Accepted only on a link marked as test. */
  insNirTest: 'urn:oid:1.2.250.1.213.1.4.10',
  /** INS-NIR of demonstration identities. Accepted only on a link marked as test. */
  insNirDemo: 'urn:oid:1.2.250.1.213.1.4.11',
  /** National practitioner identifier (IDNPS): "8" + RPPS, or "0" + ADELI. */
  idnps: 'urn:oid:1.2.250.1.71.4.2.1',
} as const;

export const INS_SYSTEMS: readonly string[] = [OID.insNir, OID.insNia, OID.insNirTest, OID.insNirDemo];
export const INS_TEST_SYSTEMS: readonly string[] = [OID.insNirTest, OID.insNirDemo];

export function isInsSystem(system: string | undefined): boolean {
  return system !== undefined && INS_SYSTEMS.includes(system);
}

/** FR Core identifier-type code system (derived from HL7 v2 table 0203). */
export const FR_IDENTIFIER_TYPE_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203';
export const IDENTIFIER_TYPE = {
  insNir: 'INS-NIR',
  insNia: 'INS-NIA',
  insNirTest: 'INS-NIR-TEST',
  insNirDemo: 'INS-NIR-DEMO',
  /** Local patient identifier (IPP) of one practice software. */
  ipp: 'PI',
  idnps: 'IDNPS',
} as const;

/**
 * FR Core identity reliability extension (fr-core-identity-reliability): the INS may travel
 * only with a qualified identity, i.e. status VALI (IHE PAM France PID-32).
 */
export const IDENTITY_RELIABILITY_URL =
  'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';
export const IDENTITY_RELIABILITY_SYSTEM = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445';
/**
 * The same extension under FR Core's previous canonical (Interop'Santé, FR Core 1.x), still sent
 * by software written against it and used by the guide's own examples: its code is in the slice
 * `identityReliability` (now `identityStatus`), from the code system below.
 */
export const LEGACY_IDENTITY_RELIABILITY_URL =
  'http://interopsante.org/fhir/StructureDefinition/fr-core-ident-reliability';
export const LEGACY_IDENTITY_RELIABILITY_SYSTEM = 'http://interopsante.org/fhir/CodeSystem/fr-v2-0445';
export const IDENTITY_RELIABILITY_CODES = ['VIDE', 'PROV', 'VALI', 'DOUTE', 'FICTI'] as const;
export type IdentityReliability = (typeof IDENTITY_RELIABILITY_CODES)[number];

/** passerelle's own extensions and code systems. */
export const PASSERELLE_FHIR_BASE = 'https://fhir.passerelle.fr';
export const EXT = {
  /**
   * Who created, moved or cancelled the appointment: FR Core's appointment operator extension
   * (valueReference), which the ANS shared-agenda guide's delegated scenario uses to record the
   * secretariat agent who booked on the practice's behalf.
   */
  appointmentOperator: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-appointment-operator',
  /** Call back number left by a caller on a call message. */
  callbackPhone: `${PASSERELLE_FHIR_BASE}/StructureDefinition/callback-phone`,
  /** Name the caller gave (may not be a known patient). */
  callerName: `${PASSERELLE_FHIR_BASE}/StructureDefinition/caller-name`,
  /** Where a canonical record was first created: `secretariat` or `practice`. */
  origin: `${PASSERELLE_FHIR_BASE}/StructureDefinition/origin`,
  /**
   * Patient: whether the patient agreed to be reminded and recalled by the secretariat
   * (valueBoolean; false is an opt-out). docs/reminders.md says why an extension and not Consent.
   */
  reminderConsent: `${PASSERELLE_FHIR_BASE}/StructureDefinition/reminder-consent`,
  /** Patient: the day the practice wants the patient recalled for a follow-up (valueDate). */
  recallDue: `${PASSERELLE_FHIR_BASE}/StructureDefinition/recall-due`,
} as const;

/**
 * Appointment reason codes (HL7 v2 table 0276, the value set FHIR R4 binds to
 * Slot.appointmentType): an urgent-only slot ("urgence du jour") is EMERGENCY.
 */
export const V2_0276_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0276';
export const URGENT_SLOT_CODE = 'EMERGENCY';

/** "8" + 11-digit RPPS → the national identifier value carried with OID.idnps. */
export function idnpsFromRpps(rpps: string): string {
  return `8${rpps}`;
}

/**
 * NIR / NIA key check (clé de contrôle): 97 - (13 first characters mod 97). Corsica's 2A/2B
 * are replaced by 19/18 before the computation, as the INSi specification states.
 */
export function isValidNirKey(value: string): boolean {
  if (!/^[0-9]{5}([0-9]{2}|2[AB])[0-9]{8}$/.test(value)) return false;
  const dept = value.slice(5, 7);
  const body = value.slice(0, 5) + (dept === '2A' ? '19' : dept === '2B' ? '18' : dept) + value.slice(7, 13);
  const key = Number(value.slice(13));
  return 97 - Number(BigInt(body) % 97n) === key;
}
