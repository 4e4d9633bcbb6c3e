/**
 * An exclusive lock on a run directory, so two training runs never write into
 * one directory at once: `DIR/.lock`, held with the operating system's
 * advisory file lock (`flock`) and holding the owner's process id.
 *
 * The operating system drops the lock when its process ends, however it ends
 * (a crash, `kill -9`), so a lock file a dead process left behind is stale and
 * taken over; nothing else decides. {@linkcode RunLock.release} (also on
 * `Deno.exit`, through the `unload` event) removes the file, and the
 * directory when the lock created it and it is still empty.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** The lock file's name inside a run directory. */
export const LOCK_FILE = ".lock";

/** A held run-directory lock; `using` releases it at the end of a block. */
export interface RunLock {
  /** The run directory. */
  readonly dir: string;
  /** Releases the lock and removes its file (idempotent, synchronous). */
  release(): void;
  /** Same as {@linkcode RunLock.release}. */
  [Symbol.dispose](): void;
}

/**
 * The process id holding `dir`'s lock, or undefined when nobody holds it (no
 * lock file, or a stale one a dead process left).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * strictEqual(await runLockHolder(dir), undefined);
 * await Deno.remove(dir);
 * ```
 */
export async function runLockHolder(dir: string): Promise<number | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${dir}/${LOCK_FILE}`, { read: true, write: true });
  } catch {
    return undefined; // no lock file (or not ours to open): nobody to wait for
  }
  try {
    if (await file.tryLock(true)) return undefined; // stale: its process is gone
    return holderOf(await Deno.readTextFile(`${dir}/${LOCK_FILE}`).catch(() => ""));
  } finally {
    file.close();
  }
}

function holderOf(text: string): number {
  const pid = Number(/^pid (\d+)/m.exec(text)?.[1]);
  return Number.isSafeInteger(pid) ? pid : 0;
}

/** The message for a run directory another process holds. */
function heldMessage(dir: string, pid: number): string {
  return `Cannot train into "${dir}": another run (process ${pid || "unknown"}) is training ` +
    `there now; wait for it to finish, stop it, or choose another --out`;
}

/**
 * Refuses a run directory whose lock a live process holds.
 *
 * @throws {UsageError} naming the directory and the process.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await checkRunLock(dir); // nobody holds it
 * await Deno.remove(dir);
 * ```
 */
export async function checkRunLock(dir: string): Promise<void> {
  const pid = await runLockHolder(dir);
  if (pid !== undefined) throw new UsageError(heldMessage(dir, pid));
}

/**
 * Takes the exclusive lock of a run directory (creating the directory when
 * missing), taking over a stale lock file; released on `Deno.exit` too.
 *
 * @throws {UsageError} when another live process holds it, or the directory
 *   cannot be written.
 *
 * @example Two locks on one directory
 * ```ts
 * import { rejects } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * using lock = await lockRunDir(`${dir}/run`);
 * await rejects(() => checkRunLock(lock.dir), /another run/);
 * ```
 */
export async function lockRunDir(dir: string): Promise<RunLock> {
  const path = `${dir}/${LOCK_FILE}`;
  let created = false;
  let file: Deno.FsFile;
  try {
    created = await Deno.stat(dir).then(() => false, () => true);
    await Deno.mkdir(dir, { recursive: true });
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    throw new UsageError(`Cannot write run directory "${dir}": ${(error as Error).message}`);
  }
  // Another process may unlink the file between our open and our lock: the
  // lock counts only while the path still names the file we locked.
  if (!await file.tryLock(true) || !await samePath(file, path)) {
    file.close();
    const pid = holderOf(await Deno.readTextFile(path).catch(() => ""));
    throw new UsageError(heldMessage(dir, pid));
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`pid ${Deno.pid}\n`));
  let held = true;
  const onUnload = () => release();
  const release = () => {
    if (!held) return;
    held = false;
    globalThis.removeEventListener("unload", onUnload);
    try {
      Deno.removeSync(path);
    } catch { /* already gone */ }
    file.close();
    if (created) {
      try {
        Deno.removeSync(dir); // only when empty: a run that wrote nothing leaves nothing
      } catch { /* it holds the run */ }
    }
  };
  globalThis.addEventListener("unload", onUnload);
  return { dir, release, [Symbol.dispose]: release };
}

async function samePath(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    const [a, b] = [await file.stat(), await Deno.stat(path)];
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}
