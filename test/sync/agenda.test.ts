import { describe, expect, it } from '@jest/globals';

import type { Appointment, Slot } from '../../src/model/resources.js';
import { findClash, needsAgendaCheck, slotUnavailable } from '../../src/sync/agenda.js';

const at = (hhmm: string) => `2026-11-24T${hhmm}:00.000Z`;
const appt = (id: string, start: string, end: string, extra: Partial<Appointment> = {}): Appointment => ({
  resourceType: 'Appointment',
  id,
  status: 'booked',
  start: at(start),
  end: at(end),
  participant: [{ actor: { reference: 'Practitioner/pr-1' }, status: 'accepted' }],
  ...extra,
});
const slot = (id: string, start: string, end: string, status: Slot['status']): Slot => ({
  resourceType: 'Slot',
  id,
  schedule: { reference: 'Schedule/s1' },
  status,
  start: at(start),
  end: at(end),
});

describe('agenda invariant', () => {
  it('refuses a booking over a slot the practice blocked', () => {
    expect(
      findClash(appt('a', '09:00', '09:20'), [slot('blk', '08:00', '12:00', 'busy-unavailable')], []),
    ).toEqual({ reason: 'blocked', recordId: 'blk', kind: 'Slot' });
  });

  it('refuses a booking over another active appointment of the practitioner, but not over a cancelled one', () => {
    expect(findClash(appt('a', '09:00', '09:20'), [], [appt('b', '09:10', '09:30')])).toEqual({
      reason: 'filled',
      recordId: 'b',
      kind: 'Appointment',
    });
    expect(
      findClash(appt('a', '09:00', '09:20'), [], [appt('b', '09:10', '09:30', { status: 'cancelled' })]),
    ).toBeUndefined();
  });

  it('accepts back-to-back appointments and free slots', () => {
    expect(
      findClash(
        appt('a', '09:00', '09:20'),
        [slot('f', '09:00', '09:20', 'free')],
        [appt('b', '09:20', '09:40'), appt('c', '08:40', '09:00')],
      ),
    ).toBeUndefined();
  });

  it('refuses a busy slot filled by someone else, not the slot this booking itself holds', () => {
    expect(findClash(appt('a', '09:00', '09:20'), [slot('s', '09:00', '09:20', 'busy')], [])).toMatchObject({
      reason: 'filled',
    });
    expect(
      findClash(
        appt('a', '09:00', '09:20', { slot: [{ reference: 'Slot/s' }] }),
        [slot('s', '09:00', '09:20', 'busy')],
        [],
      ),
    ).toBeUndefined();
  });

  it('checks only bookings that take new time', () => {
    const booked = appt('a', '09:00', '09:20');
    expect(needsAgendaCheck(booked, null)).toBe(true);
    expect(needsAgendaCheck(booked, booked)).toBe(false);
    expect(needsAgendaCheck({ ...booked, comment: 'x' }, booked)).toBe(false);
    expect(needsAgendaCheck(appt('a', '10:00', '10:20'), booked)).toBe(true);
    expect(needsAgendaCheck({ ...booked, status: 'cancelled' }, booked)).toBe(false);
    expect(needsAgendaCheck(booked, { ...booked, status: 'cancelled' })).toBe(true);
  });

  it('explains the refusal in French, in the practice’s zone, without patient data', () => {
    const e = slotUnavailable(
      { reason: 'blocked', recordId: 'blk', kind: 'Slot' },
      appt('a', '09:00', '09:20'),
      'Europe/Paris',
    );
    expect(e.code).toBe('ERR_SYNC_SLOT_UNAVAILABLE');
    expect(e.message).toContain('mardi 24 novembre 2026 à 10:00');
    expect(e.message).toContain('bloqué par le cabinet');
    const overseas = slotUnavailable(
      { reason: 'filled', recordId: 'b', kind: 'Appointment' },
      appt('a', '09:00', '09:20'),
      'America/Martinique',
    );
    expect(overseas.message).toContain('à 05:00');
    expect(overseas.message).toContain('déjà occupé');
  });
});
