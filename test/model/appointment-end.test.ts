/**
 * Issue 18: an appointment with a start and no derivable end is kept with an assumed end
 * (start + a documented default) instead of refused; a missing start is still refused.
 */
import { describe, expect, it } from '@jest/globals';

import { assumeEnd, DEFAULT_APPOINTMENT_MINUTES } from '../../src/model/appointment-end.js';
import { validateAs } from '../../src/model/validate.js';

const booked = {
  resourceType: 'Appointment',
  id: 'a1',
  status: 'booked',
  start: '2026-12-01T08:20:00.000Z',
  participant: [{ actor: { reference: 'Patient/p1' }, status: 'accepted' }],
};

describe('assumeEnd', () => {
  it('gives a booked appointment with a start and no end the product default length, which the model then accepts', () => {
    const data: Record<string, unknown> = { ...booked };
    expect(validateAs('Appointment', data).ok).toBe(false);
    expect(assumeEnd(data)).toBe(true);
    expect(DEFAULT_APPOINTMENT_MINUTES).toBe(15);
    expect(data['end']).toBe('2026-12-01T08:35:00.000Z');
    expect(validateAs('Appointment', data).ok).toBe(true);
  });

  it('takes the length it is given', () => {
    const data: Record<string, unknown> = { ...booked };
    expect([assumeEnd(data, 40), data['end']]).toEqual([true, '2026-12-01T09:00:00.000Z']);
  });

  it('leaves an end that is there, a missing or unreadable start, and a length that is not positive alone', () => {
    const withEnd: Record<string, unknown> = { ...booked, end: '2026-12-01T08:30:00.000Z' };
    const { start: _s, ...noStart } = booked;
    const unreadable: Record<string, unknown> = { ...booked, start: 'soon' };
    const zero: Record<string, unknown> = { ...booked };
    expect([assumeEnd(withEnd), withEnd['end']]).toEqual([false, '2026-12-01T08:30:00.000Z']);
    expect(assumeEnd(noStart)).toBe(false);
    expect(assumeEnd(unreadable)).toBe(false);
    expect([assumeEnd(zero, 0), zero['end']]).toEqual([false, undefined]);
    expect(validateAs('Appointment', noStart).ok).toBe(false);
  });
});
