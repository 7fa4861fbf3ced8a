import { describe, expect, it } from '@jest/globals';

import {
  appointmentContent,
  effectivePrivacy,
  patientInitials,
  patientName,
  practitionerName,
  slotContent,
  slotKind,
} from '../../src/ical/event-content.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import { fixturePatients } from '../helpers/fixtures.js';

const [jeanne] = fixturePatients() as [Patient];
const apt = (over: Partial<Appointment> = {}): Appointment => ({
  resourceType: 'Appointment',
  id: 'a1',
  status: 'booked',
  serviceType: [{ text: 'Consultation' }],
  reasonCode: [{ text: 'Fièvre' }],
  start: '2026-11-24T10:00:00Z',
  end: '2026-11-24T10:20:00Z',
  participant: [{ actor: { reference: 'Patient/pat-jeanne-fictive' }, status: 'accepted' }],
  ...over,
});
const busy = { privacy: 'busy' as const, practitionerLabel: null };
const initials = { privacy: 'initials' as const, practitionerLabel: null };
const full = { privacy: 'full' as const, practitionerLabel: null };

describe('event titles and privacy levels', () => {
  it('says only "Occupé" in a busy feed, whatever the appointment holds', () => {
    const c = appointmentContent(apt(), jeanne, busy);
    expect(c).toEqual({
      summary: 'Occupé',
      description: null,
      status: 'CONFIRMED',
      transparent: false,
      confidential: false,
    });
    expect(appointmentContent(apt({ status: 'cancelled' }), jeanne, busy)).toMatchObject({
      summary: 'Annulé',
      status: 'CANCELLED',
      transparent: true,
    });
    expect(appointmentContent(apt({ status: 'proposed' }), jeanne, busy)).toMatchObject({
      summary: 'Occupé (à confirmer)',
      status: 'TENTATIVE',
    });
  });

  it('uses the patient’s usual name for initials and full names', () => {
    expect(patientName(jeanne)).toBe('Jeanne IMAGINAIRE');
    expect(patientInitials(jeanne)).toBe('J. I.');
    expect(
      patientInitials({
        resourceType: 'Patient',
        id: 'p',
        name: [{ family: 'de la Fontaine', given: ['Jean-Pierre'] }],
      }),
    ).toBe('J.-P. D.');
    expect(appointmentContent(apt(), jeanne, initials)).toMatchObject({
      summary: 'RDV J. I.',
      description: null,
      confidential: true,
    });
  });

  it('names patient, type, reason and phone in a full feed', () => {
    const c = appointmentContent(apt(), jeanne, full);
    expect(c?.summary).toBe('RDV — Jeanne IMAGINAIRE — Consultation');
    expect(c?.description).toBe(
      'Patient : Jeanne IMAGINAIRE\nType : Consultation\nMotif : Fièvre\nTéléphone : +33612345678',
    );
    expect(appointmentContent(apt({ status: 'noshow' }), jeanne, full)?.summary).toBe(
      'RDV — Jeanne IMAGINAIRE — Consultation (absent)',
    );
    expect(appointmentContent(apt({ status: 'cancelled' }), jeanne, full)?.summary).toBe(
      'Annulé — RDV — Jeanne IMAGINAIRE — Consultation',
    );
  });

  it('leaves appointments entered in error out', () => {
    expect(appointmentContent(apt({ status: 'entered-in-error' }), jeanne, full)).toBeNull();
  });

  it('tells blocked slots from urgent-only ones and leaves other slots out', () => {
    const urgentType = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'EMERGENCY' }],
    };
    expect(slotKind({ status: 'busy-unavailable' })).toBe('blocked');
    expect(slotKind({ status: 'free', appointmentType: urgentType })).toBe('urgent');
    expect(slotKind({ status: 'busy-unavailable', appointmentType: urgentType })).toBe('urgent');
    expect(slotKind({ status: 'free' })).toBeNull();
    expect(slotKind({ status: 'busy' })).toBeNull();
    expect(slotKind({ status: 'entered-in-error', appointmentType: urgentType })).toBeNull();
  });

  it('shows a slot’s comment only in a full feed', () => {
    const s = {
      resourceType: 'Slot' as const,
      id: 's',
      schedule: { reference: 'Schedule/x' },
      status: 'busy-unavailable' as const,
      start: '2026-12-02T13:00:00Z',
      end: '2026-12-02T17:00:00Z',
      comment: 'Congrès',
    };
    expect(slotContent(s, 'blocked', busy)).toMatchObject({ summary: 'Plage bloquée', description: null });
    expect(slotContent(s, 'blocked', initials).description).toBeNull();
    expect(slotContent(s, 'blocked', full).description).toBe('Commentaire : Congrès');
    expect(slotContent(s, 'urgent', busy)).toMatchObject({
      summary: 'Urgences uniquement',
      transparent: true,
    });
  });

  it('labels events with their practitioner in practice-wide feeds', () => {
    const label = practitionerName({
      resourceType: 'Practitioner',
      id: 'p',
      name: [{ family: 'Médecin', given: ['Marie'] }],
    });
    expect(label).toBe('Dr Marie MÉDECIN');
    expect(appointmentContent(apt(), jeanne, { privacy: 'busy', practitionerLabel: label })?.summary).toBe(
      'Occupé — Dr Marie MÉDECIN',
    );
  });

  it('honours full only when an admin allowed it on the feed', () => {
    expect(effectivePrivacy({ privacy: 'full', fullAllowed: true })).toBe('full');
    expect(effectivePrivacy({ privacy: 'full', fullAllowed: false })).toBe('busy');
    expect(effectivePrivacy({ privacy: 'initials', fullAllowed: false })).toBe('initials');
  });
});
