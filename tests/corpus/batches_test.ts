import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { Rng } from "../../lib/rng.ts";
import {
  countBatches,
  type Minibatch,
  minimumTokens,
  randomBatches,
  randomPermutation,
  sequentialBatches,
} from "../../lib/corpus/batches.ts";
import { loadCorpus } from "../../lib/corpus/load.ts";
import { MemoryTokenIds, type TokenIds } from "../../lib/corpus/store.ts";

const TIME_MACHINE = new URL("../../data/timemachine.txt", import.meta.url).pathname;

/** Ids equal to their positions, so a batch says where it came from. */
function positions(n: number): TokenIds {
  return new MemoryTokenIds(Int32Array.from({ length: n }, (_, i) => i));
}

function row(batch: Minibatch, b: number, which: "x" | "y" = "x"): number[] {
  const T = batch.numSteps;
  return [...batch[which].subarray(b * T, (b + 1) * T)];
}

Deno.test("sequential batches: targets are inputs shifted by one; rows continue across minibatches", () => {
  for (const [n, B, T] of [[1000, 4, 7], [333, 2, 35], [5000, 32, 35], [200, 1, 1]]) {
    for (let seed = 0; seed < 5; seed++) {
      const epoch = sequentialBatches(positions(n), {
        batchSize: B,
        numSteps: T,
        rng: new Rng(seed),
      });
      ok(epoch.offset >= 0 && epoch.offset < T);
      const L = Math.floor((n - epoch.offset - 1) / B);
      const batches = [...epoch];
      strictEqual(batches.length, epoch.numBatches);
      strictEqual(epoch.numBatches, Math.floor(L / T));
      strictEqual(
        epoch.numBatches,
        countBatches(n, { batchSize: B, numSteps: T, offset: epoch.offset }),
      );
      batches.forEach((batch, i) => {
        strictEqual(batch.x.length, B * T);
        strictEqual(batch.batchSize, B);
        strictEqual(batch.numSteps, T);
        deepStrictEqual([...batch.y], [...batch.x].map((v) => v + 1), "y is x shifted by one");
        for (let b = 0; b < B; b++) {
          // Row b starts at offset + b*L; minibatch i takes its steps [i*T, (i+1)*T).
          strictEqual(row(batch, b)[0], epoch.offset + b * L + i * T);
          if (i > 0) {
            const prev = row(batches[i - 1], b);
            strictEqual(row(batch, b)[0], prev[T - 1] + 1, "continues the previous minibatch");
          }
        }
      });
    }
  }
});

Deno.test("sequential batches read through small windows equal direct reads on a real corpus", async () => {
  using corpus = await loadCorpus({ source: TIME_MACHINE, validFraction: 0 });
  const ids = corpus.train;
  const epoch = sequentialBatches(ids, { batchSize: 3, numSteps: 35, rng: new Rng(9) });
  const L = Math.floor((ids.length - epoch.offset - 1) / 3);
  let i = 0;
  for (const batch of epoch) {
    for (let b = 0; b < 3; b++) {
      const start = epoch.offset + b * L + i * 35;
      deepStrictEqual(row(batch, b), [...ids.read(start, 35)]);
      deepStrictEqual(row(batch, b, "y"), [...ids.read(start + 1, 35)]);
    }
    i++;
  }
  strictEqual(i, epoch.numBatches);
  ok(i > 1000);
});

Deno.test("random batches cover the corpus without overlap within an epoch", () => {
  for (const [n, B, T] of [[1000, 4, 7], [2000, 8, 10], [300, 3, 5], [50, 1, 1]]) {
    const epoch = randomBatches(positions(n), { batchSize: B, numSteps: T, rng: new Rng(n) });
    const numSubseqs = Math.floor((n - epoch.offset - 1) / T);
    strictEqual(epoch.numBatches, Math.floor(numSubseqs / B));
    strictEqual(
      epoch.numBatches,
      countBatches(n, { batchSize: B, numSteps: T, offset: epoch.offset, sampling: "random" }),
    );
    const starts: number[] = [];
    for (const batch of epoch) {
      deepStrictEqual([...batch.y], [...batch.x].map((v) => v + 1));
      for (let b = 0; b < B; b++) {
        const r = row(batch, b);
        deepStrictEqual(
          r,
          Array.from({ length: T }, (_, t) => r[0] + t),
          "a contiguous subsequence",
        );
        strictEqual((r[0] - epoch.offset) % T, 0, "on the subsequence grid");
        starts.push(r[0]);
      }
    }
    strictEqual(new Set(starts).size, starts.length, "no subsequence twice");
    strictEqual(starts.length, epoch.numBatches * B);
    // All subsequences but the fewer-than-B leftovers are used.
    ok(numSubseqs - starts.length < B);
    // Shuffled, not in order.
    if (starts.length > 10) ok(starts.some((s, k) => k > 0 && s < starts[k - 1]));
  }
});

Deno.test("a fixed seed reproduces the same batches; another seed does not", () => {
  const ids = positions(3000);
  for (const sampler of [sequentialBatches, randomBatches]) {
    const run = (seed: number) =>
      [...sampler(ids, { batchSize: 4, numSteps: 9, rng: new Rng(seed) })].map((b) => [...b.x]);
    deepStrictEqual(run(42), run(42));
    ok(JSON.stringify(run(42)) !== JSON.stringify(run(43)));
  }
  // The rng moves on: two epochs from one generator differ.
  const rng = new Rng(1);
  const a = [...randomBatches(ids, { batchSize: 4, numSteps: 9, rng })].map((b) => [...b.x]);
  const b = [...randomBatches(ids, { batchSize: 4, numSteps: 9, rng })].map((b) => [...b.x]);
  ok(JSON.stringify(a) !== JSON.stringify(b));
});

Deno.test("a corpus shorter than one minibatch is a UsageError naming the sizes", () => {
  const need = minimumTokens(32, 35);
  strictEqual(need, 32 * 35 + 35);
  for (const sampler of [sequentialBatches, randomBatches]) {
    throws(
      () => sampler(positions(need - 1), { batchSize: 32, numSteps: 35, rng: new Rng(0) }),
      (error: Error) => {
        ok(error instanceof UsageError);
        strictEqual(
          error.message,
          `Cannot make minibatches of batchSize 32 x numSteps 35 from ${need - 1} tokens: ` +
            `need at least ${need} (batchSize * numSteps + numSteps)`,
        );
        return true;
      },
    );
    // Exactly the minimum gives one minibatch whatever the offset.
    for (let seed = 0; seed < 20; seed++) {
      ok(
        sampler(positions(need), { batchSize: 32, numSteps: 35, rng: new Rng(seed) }).numBatches >=
          1,
      );
    }
    throws(
      () => sampler(positions(100), { batchSize: 0, numSteps: 5, rng: new Rng(0) }),
      /batchSize 0/,
    );
    throws(
      () => sampler(positions(100), { batchSize: 2, numSteps: 1.5, rng: new Rng(0) }),
      /numSteps 1.5/,
    );
  }
});

Deno.test("randomPermutation is a permutation, as a table or as a keyed bijection", () => {
  for (const n of [1, 2, 3, 10, 17, 100, 1000, 4097, 65536, 70001]) {
    for (const limit of [Infinity, 0]) {
      const p = randomPermutation(n, new Rng(n), limit);
      const seen = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = p(i);
        ok(Number.isInteger(v) && v >= 0 && v < n, `${v} in [0, ${n})`);
        strictEqual(seen[v], 0, `n=${n} limit=${limit}: ${v} twice`);
        seen[v] = 1;
      }
    }
  }
  // The table matches Rng.shuffle's draws.
  const table = randomPermutation(50, new Rng(7));
  deepStrictEqual(
    Array.from({ length: 50 }, (_, i) => table(i)),
    new Rng(7).shuffle([...Array(50).keys()]),
  );
});

Deno.test("random batches over a large corpus use the bijection and still never overlap", () => {
  // 5M tokens / T=1 -> 5M subsequences, over the table limit.
  const n = 5_000_001;
  const ids = new MemoryTokenIds(new Uint32Array(n).map((_, i) => i));
  const epoch = randomBatches(ids, { batchSize: 1000, numSteps: 1, rng: new Rng(3) });
  strictEqual(epoch.numBatches, 5000);
  const seen = new Uint8Array(n);
  let twice = 0;
  for (const batch of epoch) {
    for (const v of batch.x) twice += seen[v]++;
  }
  strictEqual(twice, 0);
});
