/**
 * Outbound file drop: a message becomes a file in the practice software's inbound folder,
 * written to a hidden temp file in the same folder, flushed to disk, then renamed into place,
 * so the reader never sees a partial file (rename is atomic within a file system, POSIX
 * rename(2)). The folder entry is flushed too, so an acknowledged write survives a crash.
 * Writing the same name again (a retried change) replaces the file with identical content.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { PasserelleError } from '../../../src/errors.js';

function ioError(what: string, e: unknown): PasserelleError {
  return new PasserelleError(
    'ERR_FILEDROP_IO',
    `file drop: ${what} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    { cause: e },
  );
}

/** A safe file name part: letters, digits, `-`, `_`, `.`; anything else becomes `_`. */
export function safeName(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 120) || '_'
  );
}

export async function writeFileAtomically(dir: string, name: string, bytes: Buffer): Promise<string> {
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw ioError('cannot create the outbound folder', e);
  }
  try {
    const fh = await open(temp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw ioError('cannot write the outbound file', e);
  }
  await syncDir(dir);
  return target;
}

/** fsync of the folder, so the rename itself is durable (Linux; other systems may refuse it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (EISDIR/EPERM on some systems): the rename is still atomic.
  }
}
