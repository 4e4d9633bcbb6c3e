/**
 * Token counting in the first pass over a corpus: how often each token code
 * occurs and in which order codes first appeared (the order that breaks ties
 * between equal counts, like Python's stable sort over a `Counter`).
 *
 * @module
 */

/**
 * Counts codes chunk by chunk.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const counter = new TokenCounter();
 * counter.add(new Uint32Array([5, 2, 5, 9]));
 * deepStrictEqual(counter.firstSeen(), [5, 2, 9]);
 * deepStrictEqual([counter.count(5), counter.count(9), counter.total], [2, 1, 4]);
 * ```
 */
export class TokenCounter {
  #counts = new Float64Array(256);
  readonly #order: number[] = [];
  #total = 0;
  /** Per-chunk histogram for small alphabets (cannot overflow: a chunk is < 2^31 codes). */
  readonly #histogram = new Int32Array(SMALL_ALPHABET);

  /** Tokens counted so far. */
  get total(): number {
    return this.#total;
  }

  /** Distinct codes seen so far. */
  get distinct(): number {
    return this.#order.length;
  }

  /**
   * Counts `codes[0..n)`.
   *
   * @param codeLimit one more than the largest code, if known: up to 4,096
   *   a plain histogram is used, which is faster.
   */
  add(codes: Uint8Array | Uint32Array, n = codes.length, codeLimit = Infinity): void {
    if (codeLimit <= SMALL_ALPHABET) this.#addSmall(codes, n, codeLimit);
    else this.#addAny(codes, n);
    this.#total += n;
  }

  /** How often `code` occurred. */
  count(code: number): number {
    return code < this.#counts.length ? this.#counts[code] : 0;
  }

  /** The codes seen, in order of first occurrence. */
  firstSeen(): readonly number[] {
    return this.#order;
  }

  #addAny(codes: Uint8Array | Uint32Array, n: number): void {
    let counts = this.#counts;
    const order = this.#order;
    for (let i = 0; i < n; i++) {
      const c = codes[i];
      if (c >= counts.length) counts = this.#grow(c);
      if (counts[c]++ === 0) order.push(c);
    }
  }

  #addSmall(codes: Uint8Array | Uint32Array, n: number, codeLimit: number): void {
    const histogram = this.#histogram;
    for (let i = 0; i < n; i++) histogram[codes[i]]++;
    const counts = codeLimit > this.#counts.length ? this.#grow(codeLimit - 1) : this.#counts;
    const fresh: number[] = [];
    for (let c = 0; c < codeLimit; c++) {
      const k = histogram[c];
      if (k === 0) continue;
      if (counts[c] === 0) fresh.push(c);
      counts[c] += k;
      histogram[c] = 0;
    }
    if (fresh.length > 0) {
      // New codes join the order by where they first occur in this chunk.
      const chunk = codes.subarray(0, n);
      const at = new Map(fresh.map((c) => [c, chunk.indexOf(c)]));
      fresh.sort((a, b) => at.get(a)! - at.get(b)!);
      this.#order.push(...fresh);
    }
  }

  #grow(code: number): Float64Array<ArrayBuffer> {
    let size = this.#counts.length;
    while (size <= code) size *= 2;
    const grown = new Float64Array(size);
    grown.set(this.#counts);
    this.#counts = grown;
    return grown;
  }
}

const SMALL_ALPHABET = 4096;
