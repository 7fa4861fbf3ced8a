import { describe, expect, it } from '@jest/globals';

import { appointmentActivity } from '../../src/sync/activity.js';

const at = (h: string) => `2026-11-24T${h}:00.000Z`;
const appt = (status: string, start = at('09:00'), end = at('09:20')) =>
  ({ status, start, end }) as Parameters<typeof appointmentActivity>[1];

describe('appointment activity from the record before and after a change', () => {
  it('counts a new active appointment as booked, and a new one that is not active as nothing', () => {
    expect(appointmentActivity(null, appt('booked'))).toEqual(['appointment.booked']);
    expect(appointmentActivity(null, appt('pending'))).toEqual(['appointment.booked']);
    expect(appointmentActivity(null, appt('cancelled'))).toEqual([]);
  });

  it('counts a walk-in created as arrived as booked and arrived', () => {
    expect(appointmentActivity(null, appt('arrived'))).toEqual(['appointment.booked', 'appointment.arrived']);
  });

  it('counts a change of start or end of an active appointment as a move, and other edits as nothing', () => {
    expect(appointmentActivity(appt('booked'), appt('booked', at('10:00'), at('10:20')))).toEqual([
      'appointment.moved',
    ]);
    expect(appointmentActivity(appt('booked'), appt('booked', at('09:00'), at('09:30')))).toEqual([
      'appointment.moved',
    ]);
    expect(appointmentActivity(appt('booked'), appt('booked'))).toEqual([]);
  });

  it('counts cancellations, no-shows and arrivals once, when the status changes into them', () => {
    expect(appointmentActivity(appt('booked'), appt('cancelled'))).toEqual(['appointment.cancelled']);
    expect(appointmentActivity(appt('cancelled'), appt('cancelled'))).toEqual([]);
    expect(appointmentActivity(appt('booked'), appt('noshow'))).toEqual(['appointment.noshow']);
    expect(appointmentActivity(appt('booked'), appt('arrived'))).toEqual(['appointment.arrived']);
    expect(appointmentActivity(appt('arrived'), appt('checked-in'))).toEqual([]);
    expect(appointmentActivity(appt('arrived'), appt('fulfilled'))).toEqual([]);
  });

  it('does not count moving a cancelled appointment, and counts re-activating one as a booking', () => {
    expect(appointmentActivity(appt('cancelled'), appt('cancelled', at('11:00'), at('11:20')))).toEqual([]);
    expect(appointmentActivity(appt('cancelled'), appt('booked', at('11:00'), at('11:20')))).toEqual([
      'appointment.booked',
    ]);
  });

  it('counts a cancellation with a new time as a cancellation only', () => {
    expect(appointmentActivity(appt('booked'), appt('cancelled', at('11:00'), at('11:20')))).toEqual([
      'appointment.cancelled',
    ]);
  });
});
