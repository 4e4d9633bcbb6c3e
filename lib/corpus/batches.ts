/**
 * Minibatches of a token sequence, with d2l's two samplers.
 *
 * A minibatch is `x` and `y`, both row-major `[batchSize, numSteps]`
 * `Int32Array`s, where `y` is `x` shifted by one token (the next token to
 * predict). Both samplers start at a random offset in `[0, numSteps)`.
 *
 * - {@linkcode sequentialBatches} (d2l's `seq_data_iter_sequential`): the
 *   corpus is cut into `batchSize` contiguous rows, and minibatch `i + 1`
 *   continues minibatch `i` row by row, so a model may carry its state.
 * - {@linkcode randomBatches} (d2l's `seq_data_iter_random`): the corpus is
 *   cut into subsequences of `numSteps` tokens, taken in shuffled order; no
 *   two overlap within an epoch.
 *
 * Each call is one epoch: the offset and order are drawn from the given
 * {@linkcode Rng} when the function is called, and the returned
 * {@linkcode BatchEpoch} knows how many minibatches it will yield. Reading
 * is windowed, so a file-backed corpus is read in large slices and memory
 * stays small.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { TokenIds } from "./store.ts";

/** One minibatch. */
export interface Minibatch {
  /** Inputs, row-major `[batchSize, numSteps]`. */
  x: Int32Array;
  /** Targets: the inputs shifted by one token. */
  y: Int32Array;
  /** Rows of a minibatch. */
  batchSize: number;
  /** Time steps of a minibatch. */
  numSteps: number;
}

/** Settings of both samplers. */
export interface BatchOptions {
  /** Rows per minibatch (B). */
  batchSize: number;
  /** Time steps per row (T). */
  numSteps: number;
  /** Draws the offset (and the order, for random sampling). */
  rng: Rng;
}

/** The two ways to sample. */
export type Sampling = "sequential" | "random";

/**
 * The minibatch schemes, for validation and help text.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(SAMPLINGS, ["sequential", "random"]);
 * ```
 */
export const SAMPLINGS: readonly Sampling[] = ["sequential", "random"];

/** One epoch of minibatches. */
export interface BatchEpoch extends Iterable<Minibatch> {
  /** How the minibatches are sampled. */
  readonly sampling: Sampling;
  /** The random offset drawn for this epoch, in `[0, numSteps)`. */
  readonly offset: number;
  /** How many minibatches this epoch yields. */
  readonly numBatches: number;
  /** Rows of a minibatch. */
  readonly batchSize: number;
  /** Time steps of a minibatch. */
  readonly numSteps: number;
}

/** Options of {@linkcode countBatches}. */
export interface CountBatchesOptions {
  /** Rows of a minibatch. */
  batchSize: number;
  /** Time steps of a minibatch. */
  numSteps: number;
  /** `sequential` (default) or `random`. */
  sampling?: Sampling;
  /** The epoch's offset; default 0, which gives the most minibatches any offset gives. */
  offset?: number;
}

/**
 * Number of minibatches an epoch yields (both samplers give the same count
 * for the same offset). For the exact count of an epoch use its
 * {@linkcode BatchEpoch.numBatches}.
 *
 * @param ids the corpus, or its length.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(countBatches(1000, { batchSize: 4, numSteps: 10 }), 24);
 * strictEqual(countBatches(1000, { batchSize: 4, numSteps: 10, offset: 9 }), 24);
 * ```
 */
export function countBatches(ids: TokenIds | number, options: CountBatchesOptions): number {
  const length = typeof ids === "number" ? ids : ids.length;
  const { batchSize: b, numSteps: t } = options;
  checkSizes(b, t);
  const offset = options.offset ?? 0;
  const usable = length - offset - 1;
  if (usable <= 0) return 0;
  return (options.sampling ?? "sequential") === "sequential"
    ? Math.floor(Math.floor(usable / b) / t)
    : Math.floor(Math.floor(usable / t) / b);
}

/**
 * The fewest tokens that give at least one minibatch whatever the offset:
 * `batchSize * numSteps + numSteps` (the offset may take `numSteps - 1`
 * tokens, and the targets one more).
 *
 * @example Enough for one batch
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { minimumTokens } from "./batches.ts";
 * strictEqual(minimumTokens(2, 3), 9);
 * ```
 */
export function minimumTokens(batchSize: number, numSteps: number): number {
  return batchSize * numSteps + numSteps;
}

function checkSizes(batchSize: number, numSteps: number): void {
  for (const [name, value] of [["batchSize", batchSize], ["numSteps", numSteps]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new UsageError(`Cannot make minibatches: ${name} ${value} is not a positive integer`);
    }
  }
}

function checkLength(ids: TokenIds, batchSize: number, numSteps: number): void {
  checkSizes(batchSize, numSteps);
  const need = minimumTokens(batchSize, numSteps);
  if (ids.length < need) {
    throw new UsageError(
      `Cannot make minibatches of batchSize ${batchSize} x numSteps ${numSteps} from ` +
        `${ids.length} tokens: need at least ${need} (batchSize * numSteps + numSteps)`,
    );
  }
}

/** Tokens each row buffers at most, and all rows together. */
const ROW_WINDOW = 1 << 16;
const ALL_WINDOWS = 1 << 22;

/**
 * One epoch of sequential minibatches (d2l's `seq_data_iter_sequential`).
 *
 * With offset `o` and `L = floor((n - o - 1) / B)` tokens per row, row `b`
 * covers tokens `o + b*L ..`, and minibatch `i` holds
 * `x[b, t] = ids[o + b*L + i*T + t]`, `y[b, t] = ids[o + b*L + i*T + t + 1]`.
 *
 * @throws {UsageError} for bad sizes or a corpus shorter than
 *   {@linkcode minimumTokens}.
 *
 * @example Rows continue each other
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * import { MemoryTokenIds } from "./store.ts";
 * const ids = new MemoryTokenIds(Int32Array.from({ length: 30 }, (_, i) => i));
 * const epoch = sequentialBatches(ids, { batchSize: 2, numSteps: 3, rng: new Rng(0) });
 * const [first, second] = [...epoch];
 * deepStrictEqual([...second.x].slice(0, 3), [...first.x].slice(0, 3).map((v) => v + 3));
 * deepStrictEqual([...first.y], [...first.x].map((v) => v + 1));
 * ```
 */
export function sequentialBatches(ids: TokenIds, options: BatchOptions): BatchEpoch {
  const { batchSize: B, numSteps: T, rng } = options;
  checkLength(ids, B, T);
  const offset = rng.int(T);
  const rowLength = Math.floor((ids.length - offset - 1) / B);
  const numBatches = Math.floor(rowLength / T);
  return {
    sampling: "sequential",
    offset,
    numBatches,
    batchSize: B,
    numSteps: T,
    *[Symbol.iterator]() {
      // Each row reads [rowStart, rowStart + numBatches*T + 1) through its own window.
      const span = numBatches * T + 1;
      const window = Math.min(
        span,
        Math.max(T + 1, Math.min(ROW_WINDOW, Math.floor(ALL_WINDOWS / B))),
      );
      const windows = Array.from({ length: B }, () => new Int32Array(window));
      const windowStart = new Array<number>(B).fill(0);
      const windowEnd = new Array<number>(B).fill(0); // empty
      for (let i = 0; i < numBatches; i++) {
        const x = new Int32Array(B * T), y = new Int32Array(B * T);
        const from = i * T; // position within the row
        for (let b = 0; b < B; b++) {
          if (from + T + 1 > windowEnd[b]) {
            const count = Math.min(window, span - from);
            ids.readInto(offset + b * rowLength + from, count, windows[b], 0);
            windowStart[b] = from;
            windowEnd[b] = from + count;
          }
          const w = windows[b];
          const at = from - windowStart[b], to = b * T;
          for (let t = 0; t < T; t++) {
            x[to + t] = w[at + t];
            y[to + t] = w[at + t + 1];
          }
        }
        yield { x, y, batchSize: B, numSteps: T };
      }
    },
  };
}

/**
 * One epoch of random minibatches (d2l's `seq_data_iter_random`): with
 * offset `o`, the subsequences start at `o + k*T` for
 * `k < floor((n - o - 1) / T)`, and are taken in a shuffled order,
 * `batchSize` per minibatch; subsequences left over are dropped.
 *
 * @throws {UsageError} for bad sizes or a corpus shorter than
 *   {@linkcode minimumTokens}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * import { MemoryTokenIds } from "./store.ts";
 * const ids = new MemoryTokenIds(Int32Array.from({ length: 100 }, (_, i) => i));
 * const epoch = randomBatches(ids, { batchSize: 4, numSteps: 5, rng: new Rng(1) });
 * strictEqual(epoch.numBatches, 4);
 * for (const { x, y } of epoch) deepStrictEqual([...y], [...x].map((v) => v + 1));
 * ```
 */
export function randomBatches(ids: TokenIds, options: BatchOptions): BatchEpoch {
  const { batchSize: B, numSteps: T, rng } = options;
  checkLength(ids, B, T);
  const offset = rng.int(T);
  const numSubseqs = Math.floor((ids.length - offset - 1) / T);
  const numBatches = Math.floor(numSubseqs / B);
  const order = randomPermutation(numSubseqs, rng);
  return {
    sampling: "random",
    offset,
    numBatches,
    batchSize: B,
    numSteps: T,
    *[Symbol.iterator]() {
      const row = new Int32Array(T + 1);
      for (let i = 0; i < numBatches; i++) {
        const x = new Int32Array(B * T), y = new Int32Array(B * T);
        for (let b = 0; b < B; b++) {
          ids.readInto(offset + order(i * B + b) * T, T + 1, row, 0);
          const at = b * T;
          for (let t = 0; t < T; t++) {
            x[at + t] = row[t];
            y[at + t] = row[t + 1];
          }
        }
        yield { x, y, batchSize: B, numSteps: T };
      }
    },
  };
}

/** Up to this many items, a permutation is a shuffled table; beyond, a keyed bijection. */
export const PERMUTATION_TABLE_LIMIT = 1 << 22;

/**
 * A random permutation of `[0, n)` as a function from position to item.
 * Up to `tableLimit` items it is a Fisher-Yates shuffle (the same draws as
 * `Rng.shuffle`); beyond, a keyed Feistel network with cycle-walking, which
 * needs no memory per item.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * for (const limit of [100, 0]) {
 *   const p = randomPermutation(10, new Rng(5), limit);
 *   const items = Array.from({ length: 10 }, (_, i) => p(i));
 *   deepStrictEqual([...items].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * }
 * ```
 */
export function randomPermutation(
  n: number,
  rng: Rng,
  tableLimit = PERMUTATION_TABLE_LIMIT,
): (position: number) => number {
  if (n <= tableLimit) {
    const table = new Uint32Array(n);
    for (let i = 0; i < n; i++) table[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = table[i];
      table[i] = table[j];
      table[j] = t;
    }
    return (position) => table[position];
  }
  return feistelPermutation(n, rng);
}

/** A bijection of `[0, n)` (n <= 2^52) from a 4-round Feistel network over `2^(2h)` values. */
function feistelPermutation(n: number, rng: Rng): (position: number) => number {
  let half = 1;
  while (2 ** (2 * half) < n) half++;
  const size = 2 ** half, mask = size - 1; // half <= 26: halves fit in 32-bit integers
  const [k0, k1, k2, k3] = Array.from({ length: 4 }, () => (rng.next() * 0x100000000) | 0);
  // A 32-bit integer hash of (r, key), reduced to `half` bits.
  const f = (r: number, key: number): number => {
    let h = Math.imul(r ^ key, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) & mask;
  };
  const encrypt = (v: number): number => {
    let l = Math.floor(v / size), r = v - l * size, t: number;
    t = (l + f(r, k0)) & mask, l = r, r = t;
    t = (l + f(r, k1)) & mask, l = r, r = t;
    t = (l + f(r, k2)) & mask, l = r, r = t;
    t = (l + f(r, k3)) & mask, l = r, r = t;
    return l * size + r;
  };
  return (position) => {
    let v = encrypt(position);
    while (v >= n) v = encrypt(v); // cycle-walk back into [0, n)
    return v;
  };
}
