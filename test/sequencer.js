// Jest runs a file with no recorded duration (every file of a fresh clone, as on CI) in order of
// file size, biggest first: a poor guess here, where a small file can start a whole demo world
// (test/console/console.browser.test.ts is 40 lines and runs every console page). A long file
// started last keeps one worker busy after the other has finished. So, among the files jest has
// no duration for: the browser tests first, then the cluster and end-to-end tests, then the
// other integration tests, then the rest, each group in jest's order (by size). Failed-first
// and recorded durations (a second local run) are jest's own rules, unchanged.
import TestSequencer from '@jest/test-sequencer';

const Sequencer = TestSequencer.default ?? TestSequencer;

const weight = (path) => {
  if (/\.browser\.test\.ts$/.test(path)) return 3;
  if (/[/\\]test[/\\](cluster|e2e)[/\\]/.test(path)) return 2;
  return /\.int\.test\.ts$/.test(path) ? 1 : 0;
};

export default class SlowFirstSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    // jest's order: failed first, then files without a duration, then by duration.
    const group = (t) => (this.hasFailed(t) ? 0 : t.duration == null ? 1 : 2);
    const key = (t) => [group(t), group(t) === 1 ? -weight(t.path) : 0];
    // Array.prototype.sort is stable: jest's order is kept for equal keys.
    return [...sorted].sort((a, b) => {
      const [ga, wa] = key(a);
      const [gb, wb] = key(b);
      return ga - gb || wa - wb;
    });
  }
}
