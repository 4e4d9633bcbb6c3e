/**
 * A small seedable random number generator whose whole state is one number,
 * so a run can be reproduced from a seed and resumed from a checkpoint.
 *
 * @module
 */

/**
 * Mulberry32: a 32-bit generator, fast and good enough for shuffling,
 * sampling and weight initialisation (not for cryptography).
 *
 * @example Same seed, same numbers
 * ```ts
 * import { strictEqual } from "node:assert";
 * const a = new Rng(42), b = new Rng(42);
 * strictEqual(a.next(), b.next());
 * ```
 */
export class Rng {
  #state: number;

  /**
   * A generator seeded with `seed`.
   *
   * @param seed any integer; the same seed gives the same sequence.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The generator's state, to save in a checkpoint and restore with {@linkcode Rng.fromState}. */
  get state(): number {
    return this.#state;
  }

  /** Moves the generator to a saved state (see {@linkcode Rng.state}). */
  set state(value: number) {
    this.#state = value >>> 0;
  }

  /**
   * A generator that continues from a saved state.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert";
   * const a = new Rng(7);
   * a.next();
   * const b = Rng.fromState(a.state);
   * strictEqual(a.next(), b.next());
   * ```
   */
  static fromState(state: number): Rng {
    return new Rng(state);
  }

  /** A float uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * An integer uniform in [0, n).
   *
   * @example
   * ```ts
   * import { ok } from "node:assert";
   * const k = new Rng(1).int(10);
   * ok(k >= 0 && k < 10);
   * ```
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Shuffles an array in place (Fisher-Yates) and returns it.
   *
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert";
   * const xs = new Rng(3).shuffle([1, 2, 3, 4]);
   * deepStrictEqual([...xs].sort(), [1, 2, 3, 4]);
   * ```
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
