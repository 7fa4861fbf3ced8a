/** Agenda rules and free slots (issue 20): pure functions over rules and an agenda's contents. */
export * from './availability.js';
export * from './calendar.js';
export * from './check.js';
export * from './coverage.js';
export * from './import.js';
export * from './publication.js';
export * from './regions.js';
export * from './rules.js';
