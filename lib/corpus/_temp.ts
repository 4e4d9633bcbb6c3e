/**
 * A temporary directory made on first use and removed on release, or at the
 * latest when the process unloads, so a corpus never leaves files behind.
 *
 * @module
 */

/**
 * A lazily made temporary directory.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const temp = new TempDir();
 * strictEqual(temp.path, undefined); // nothing made until asked
 * temp.release();
 * ```
 */
export class TempDir {
  readonly #parent?: string;
  #path?: string;
  #onUnload = () => this.release();

  /** @param parent where to make the directory (default: the system's temp directory). */
  constructor(parent?: string) {
    this.#parent = parent;
  }

  /** The directory, if it was made. */
  get path(): string | undefined {
    return this.#path;
  }

  /** The directory, made now if needed. */
  async ensure(): Promise<string> {
    if (this.#path === undefined) {
      if (this.#parent !== undefined) await Deno.mkdir(this.#parent, { recursive: true });
      this.#path = await Deno.makeTempDir({ dir: this.#parent, prefix: "rnn-corpus-" });
      globalThis.addEventListener("unload", this.#onUnload);
    }
    return this.#path;
  }

  /** Removes the directory and everything in it (safe to call twice). */
  release(): void {
    const path = this.#path;
    if (path === undefined) return;
    this.#path = undefined;
    globalThis.removeEventListener("unload", this.#onUnload);
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}
