/**
 * The layering rule of docs/architecture.md: imports only go down.
 * Each layer may import its own folder and any layer below it; never a layer above, never a
 * sibling on the same level (siblings stay independent so either can change alone).
 * Checked by `npm run lint` (dependency-cruiser 17.4.3, the last that runs on Node 20).
 */
const LAYERS = [
  ['base', ['src/errors\\.ts', 'src/log/', 'src/util/', 'src/config/']],
  ['model', ['src/model/']],
  ['hl7', ['src/hl7/']],
  ['agenda', ['src/agenda/']],
  ['store', ['src/store/']],
  ['mapping', ['src/mapping/']],
  ['ical', ['src/ical/']],
  ['security', ['src/security/']],
  ['connector', ['src/connector/']],
  ['sync', ['src/sync/']],
  ['connectors', ['connectors/']],
  ['reports', ['src/reports/']],
  ['privacy', ['src/privacy/']],
  ['api', ['src/api/']],
  ['app', ['src/app/']],
  ['demo', ['src/demo/']],
  ['cli', ['src/cli/']],
];
// Layers that share a level: neither imports the other.
const LEVEL = {
  base: 0,
  model: 1,
  hl7: 1,
  agenda: 1,
  store: 2,
  mapping: 3,
  ical: 3,
  security: 3,
  connector: 4,
  sync: 5,
  connectors: 5,
  reports: 6,
  privacy: 6,
  api: 7,
  app: 8,
  demo: 9,
  cli: 10,
};
const pathsOf = (name) => LAYERS.find(([n]) => n === name)[1];
const re = (paths) => `^(${paths.join('|')})`;

const forbidden = [
  {
    name: 'no-cycles',
    severity: 'error',
    comment: 'A cycle ties modules so that neither can be understood or changed alone.',
    from: {},
    to: { circular: true },
  },
  {
    name: 'not-resolvable',
    severity: 'error',
    comment: 'An import that cannot be resolved would otherwise pass unchecked.',
    from: {},
    to: { couldNotResolve: true },
  },
  {
    name: 'console-is-a-browser-client',
    severity: 'error',
    comment:
      'The console (browser code) talks to the service over HTTP only: it imports no server module, and no server module imports it.',
    from: { path: '^console/' },
    to: { path: '^(src|connectors)/' },
  },
  {
    name: 'server-never-imports-the-console',
    severity: 'error',
    comment: 'The service builds the console with esbuild from its files; it never imports them.',
    from: { path: '^(src|connectors)/' },
    to: { path: '^console/' },
  },
  {
    name: 'connectors-never-import-each-other',
    severity: 'error',
    comment: 'A connector is one folder: it speaks to passerelle through src/connector only.',
    from: { path: '^connectors/([^/]+)/' },
    to: { path: '^connectors/', pathNot: '^connectors/$1/' },
  },
];
for (const [name, paths] of LAYERS) {
  const mine = LEVEL[name];
  const higherOrSibling = LAYERS.filter(([other]) => other !== name && LEVEL[other] >= mine).flatMap(
    ([other]) => (other === 'connectors' && name === 'connectors' ? [] : pathsOf(other)),
  );
  if (higherOrSibling.length === 0) continue;
  forbidden.push({
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} (level ${mine}) imports only lower layers.`,
    from: { path: re(paths) },
    to: { path: re(higherOrSibling) },
  });
}

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test|bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
