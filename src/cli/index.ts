/* The `passerelle` process (bin/passerelle.js): runs the command line, exits non-zero on failure. */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// On success, a long-running command (serve, simulate) keeps the process alive; others end.
if (code !== 0) process.exit(code);
