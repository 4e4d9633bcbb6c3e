/**
 * Private: replace a whole directory atomically, and find what a crash left.
 *
 * The protocol, for a directory `dir` (one writer at a time):
 *
 * 1. write every file into a new sibling `${dir}.tmp-<tag>`, fsync each file
 *    and the directory;
 * 2. if `dir` exists, rename it to `${dir}.old-<tag>`;
 * 3. rename `${dir}.tmp-<tag>` to `dir` and fsync the parent;
 * 4. remove `${dir}.old-<tag>` (and any `.old-`/`.tmp-` sibling an earlier crash left).
 *
 * A crash in step 1 leaves `dir` as it was (and a `.tmp-` sibling to delete);
 * between steps 2 and 3 it leaves no `dir` but a complete `${dir}.old-<tag>`,
 * which {@linkcode findLeftover} finds; after step 3 `dir` is the new one. So
 * at any moment a complete directory sits at `dir` or at an `.old-` name.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** One file to write: its name inside the directory and its bytes. */
export interface DirFile {
  name: string;
  data: Uint8Array;
}

/**
 * Writes `files` into `dir`, replacing what was there by the protocol above.
 * On an error before step 2 the temporary directory is removed and `dir` is
 * untouched; if step 3 fails the old directory is renamed back.
 *
 * @throws the file system's error, unchanged (callers word it).
 */
export async function replaceDirectory(dir: string, files: readonly DirFile[]): Promise<void> {
  const parent = dirname(dir);
  await Deno.mkdir(parent, { recursive: true });
  const tag = randomTag();
  const tmp = `${dir}.tmp-${tag}`;
  await Deno.mkdir(tmp);
  try {
    for (const { name, data } of files) await writeSynced(join(tmp, name), data);
    await syncDirectory(tmp);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  let old: string | undefined = `${dir}.old-${tag}`;
  try {
    await Deno.rename(dir, old);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw error;
    }
    old = undefined;
  }
  try {
    await Deno.rename(tmp, dir);
  } catch (error) {
    if (old) await Deno.rename(old, dir).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  await syncDirectory(parent);
  await removeLeftovers(dir);
}

/**
 * Removes every `.old-` and `.tmp-` sibling of `dir`: ours, and those an
 * earlier crash left, now that a complete `dir` supersedes them (one writer
 * per path). Best effort: a leftover next to a complete `dir` is never read.
 */
async function removeLeftovers(dir: string): Promise<void> {
  const pattern = new RegExp(`^${escapeRegExp(basename(dir))}\\.(old|tmp)-[0-9a-f]{8}$`);
  try {
    for await (const entry of Deno.readDir(dirname(dir))) {
      if (!entry.isDirectory || !pattern.test(entry.name)) continue;
      await Deno.remove(join(dirname(dir), entry.name), { recursive: true }).catch(() => {});
    }
  } catch { /* an unreadable parent: leave them */ }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The newest `${dir}.old-<tag>` sibling holding `marker` (e.g. the manifest),
 * left by a crash between steps 2 and 3; `undefined` if there is none.
 */
export async function findLeftover(dir: string, marker: string): Promise<string | undefined> {
  const parent = dirname(dir);
  const prefix = `${basename(dir)}.old-`;
  let best: { path: string; mtime: number } | undefined;
  try {
    for await (const entry of Deno.readDir(parent)) {
      if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
      const path = join(parent, entry.name);
      try {
        const info = await Deno.stat(join(path, marker));
        const mtime = info.mtime?.getTime() ?? 0;
        if (!best || mtime > best.mtime) best = { path, mtime };
      } catch { /* no marker: not a complete directory */ }
    }
  } catch {
    return undefined;
  }
  return best?.path;
}

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  for (let done = 0; done < data.length;) done += await file.write(data.subarray(done));
  await file.sync();
}

/** fsync a directory so renames and new entries survive a power cut (where the OS allows it). */
async function syncDirectory(path: string): Promise<void> {
  try {
    using dir = await Deno.open(path, { read: true });
    await dir.sync();
  } catch { /* not every platform can open or sync a directory */ }
}

function randomTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
