// ESM jest: fhir-kit-client is ESM-only (shared/libraries.md §6), so the whole package is ESM.
// ts-jest runs transpile-only here (isolatedModules); `npm test` runs `tsc --noEmit` first.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Three workers on a 2-core machine: the suite mostly waits (sockets, polls, child processes,
  // Chromium) — a fresh-clone run with two used about one core on average (user+sys ≈ wall) —
  // so a third worker fills the idle time instead of stretching the run past 15 minutes.
  maxWorkers: 3,
  // Slow files first on a fresh clone, where jest knows no durations (see the file).
  testSequencer: '<rootDir>/test/sequencer.js',
  testTimeout: 30000,
};
