/**
 * embedding(): lookups against the table read back in JS, the scatter
 * gradient against float64 finite differences, the padding row (zero, no
 * gradient, unchanged by optimizer steps), input checks, and cpu = wasm.
 */
import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { embedding } from "../../lib/layers/embedding.ts";
import {
  assertClose,
  assertNoLeak,
  assertZeroAt,
  dot,
  finiteDifferences,
  onBackend,
  randomData,
  read,
} from "./_fd.ts";

await useBackend("cpu");

const [V, E] = [7, 4];
const IDS = [[3, 0, 6, 3], [1, 3, 0, 5]]; // [B=2, T=4], id 3 three times, pad 0 twice

/** Float64 reference: the rows of `table` at `ids`, flat. */
function lookup64(table: Float64Array, ids: number[]): Float64Array {
  return Float64Array.from(ids.flatMap((id) => Array.from(table.slice(id * E, (id + 1) * E))));
}

Deno.test("embedding() looks up the table's rows, shape [...ids.shape, E]", async () => {
  const embed = embedding({ vocabSize: V, size: E, seed: 5 });
  const table = await read(embed.table);
  for (const ids of [IDS, IDS[0], Int32Array.from(IDS[1]), tf.tensor2d(IDS, [2, 4], "int32")]) {
    const out = embed.apply(ids);
    const shape = ids instanceof tf.Tensor ? ids.shape : Array.isArray(ids[0]) ? [2, 4] : [4];
    deepStrictEqual(out.shape, [...shape, E]);
    strictEqual(out.dtype, "float32");
    const flat = ids instanceof tf.Tensor ? IDS.flat() : Array.isArray(ids[0]) ? IDS.flat() : [
      ...Array.from(ids as ArrayLike<number>),
    ];
    deepStrictEqual(await read(out), lookup64(table, flat));
    tf.dispose([out, ...(ids instanceof tf.Tensor ? [ids] : [])]);
  }
  // A rank-3 id tensor works too.
  const ids3 = tf.tensor3d([[[1], [2]], [[3], [4]]], [2, 2, 1], "int32");
  const out3 = embed.apply(ids3);
  deepStrictEqual(out3.shape, [2, 2, 1, E]);
  deepStrictEqual(await read(out3), lookup64(table, [1, 2, 3, 4]));
  tf.dispose([ids3, out3]);
  embed.dispose();
});

Deno.test("embedding() draws a seeded N(0, std²) table with a zero padding row", async () => {
  const a = embedding({ vocabSize: 50, size: 40, seed: 1, paddingId: 2 });
  const b = embedding({ vocabSize: 50, size: 40, seed: 1, paddingId: 2 });
  const c = embedding({ vocabSize: 50, size: 40, seed: 2, paddingId: 2 });
  const small = embedding({ vocabSize: 50, size: 40, seed: 1, std: 0.01 });
  const ta = await read(a.table);
  deepStrictEqual(ta, await read(b.table));
  notDeepStrictEqual(ta, await read(c.table));
  assertZeroAt(ta, (i) => Math.floor(i / 40) === 2, "padding row");
  const rest = ta.filter((_, i) => Math.floor(i / 40) !== 2);
  const mean = rest.reduce((s, x) => s + x, 0) / rest.length;
  const sd = Math.sqrt(rest.reduce((s, x) => s + (x - mean) ** 2, 0) / rest.length);
  ok(Math.abs(mean) < 0.1 && Math.abs(sd - 1) < 0.1, `mean ${mean}, sd ${sd}: default std is 1`);
  const ts = await read(small.table);
  ok(Math.abs(ts[0] - ta[0] * 0.01) < 1e-8, "std scales the same draws");
  for (const e of [a, b, c, small]) e.dispose();
});

Deno.test("embedding() gradient matches float64 finite differences; duplicates add up", async () => {
  const embed = embedding({ vocabSize: V, size: E, seed: 3 });
  const ids = IDS.flat();
  const R = randomData([2, 4, E], 11);
  const rT = tf.tensor3d(Float32Array.from(R.f64), [2, 4, E]);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(embed.apply(IDS), rT)) as tf.Scalar);
  const table = await read(embed.table);
  const fd = finiteDifferences(() => dot(lookup64(table, ids), R.f64), table);
  await assertClose(grads[embed.table.name], fd, 1e-5, "dTable", 1e-6);
  // Rows never looked up (2 and 4) get exactly zero.
  assertZeroAt(
    await read(grads[embed.table.name]),
    (i) => [2, 4].includes(Math.floor(i / E)),
    "unused rows",
  );
  tf.dispose([rT, ...Object.values(grads)]);
  embed.dispose();
});

Deno.test("embedding() padding row gets exactly zero gradient and stays zero under Adam", async () => {
  const embed = embedding({ vocabSize: V, size: E, seed: 4, paddingId: 0 });
  const R = randomData([2, 4, E], 12);
  const rT = tf.tensor3d(Float32Array.from(R.f64), [2, 4, E]);
  const loss = () => tf.sum(tf.mul(embed.apply(IDS), rT)) as tf.Scalar;
  const { grads } = tf.variableGrads(loss);
  const g = await read(grads[embed.table.name]);
  assertZeroAt(g, (i) => i < E, "padding row gradient");
  // The other rows still get theirs: row 3 appears 3 times.
  ok(g.slice(3 * E, 4 * E).some((x) => x !== 0), "row 3 has a gradient");
  tf.dispose(Object.values(grads));
  const before = await read(embed.table);
  const optimizer = tf.train.adam(0.1);
  for (let step = 0; step < 5; step++) {
    tf.dispose(optimizer.minimize(loss, true, embed.trainableVariables)!);
  }
  const after = await read(embed.table);
  assertZeroAt(after, (i) => i < E, "padding row after 5 Adam steps");
  notDeepStrictEqual(after.slice(3 * E, 4 * E), before.slice(3 * E, 4 * E));
  optimizer.dispose();
  rT.dispose();
  embed.dispose();
});

Deno.test("embedding() rejects bad options, out-of-range JS ids and non-int32 tensors", () => {
  const usage = (f: () => unknown, part: string) =>
    throws(f, (e: Error) => e instanceof UsageError && e.message.includes(part));
  usage(() => embedding({ vocabSize: 0, size: 3 }), "vocabSize is 0");
  usage(() => embedding({ vocabSize: 3, size: 1.5 }), "size is 1.5");
  usage(() => embedding({ vocabSize: 3, size: 2, paddingId: 3 }), "paddingId is 3");
  usage(() => embedding({ vocabSize: 3, size: 2, std: -1 }), "std is -1");
  const embed = embedding({ vocabSize: V, size: E });
  usage(() => embed.apply([1, 7]), "id 7 is out of range");
  usage(() => embed.apply([[1, 2], [-1, 0]]), "id -1 is out of range");
  usage(() => embed.apply([0.5]), "id 0.5");
  usage(() => embed.apply([[1, 2], [3]]), "lengths 2 and 1");
  const floats = tf.tensor1d([1, 2]);
  usage(() => embed.apply(floats), "dtype float32");
  floats.dispose();
  embed.dispose();
});

Deno.test("embedding() lookups and gradients leak no tensors", async () => {
  const embed = embedding({ vocabSize: V, size: E, paddingId: 0 });
  await assertNoLeak(() => {
    const out = embed.apply(IDS);
    const { value, grads } = tf.variableGrads(() =>
      tf.sum(tf.square(embed.apply(IDS))) as tf.Scalar
    );
    tf.dispose([out, value, ...Object.values(grads)]);
  });
  embed.dispose();
});

Deno.test("embedding() forward and gradient agree on cpu and wasm (the gradient needs no UnsortedSegmentSum)", async () => {
  const run = async () => {
    const embed = embedding({ vocabSize: V, size: E, seed: 9, paddingId: 0 });
    const R = tf.tensor3d(Float32Array.from(randomData([2, 4, E], 13).f64), [2, 4, E]);
    const out = embed.apply(IDS);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(embed.apply(IDS), R)) as tf.Scalar);
    const result = [await read(out), await read(grads[embed.table.name])];
    tf.dispose([R, out, ...Object.values(grads)]);
    embed.dispose();
    return result;
  };
  const cpu = await run();
  let wasm: Float64Array[] = [];
  await onBackend("wasm", async () => {
    wasm = await run();
  });
  await assertClose(wasm[0], cpu[0], 1e-5, "wasm forward");
  await assertClose(wasm[1], cpu[1], 1e-5, "wasm dTable");
  assertZeroAt(wasm[1], (i) => i < E, "wasm padding row gradient");
});

Deno.test("embedding().rows() gives checked float ids [T, B], the padding id sent past the table", async () => {
  const embed = embedding({ vocabSize: 5, size: 2, paddingId: 1, seed: 3 });
  const rows = embed.rows([4, 1, 0, 2, 1, 3], 3, 2); // T = 3, B = 2
  deepStrictEqual(rows.ids.shape, [3, 2]);
  strictEqual(rows.ids.dtype, "float32");
  deepStrictEqual(Array.from(await rows.ids.data()), [4, 5, 0, 2, 5, 3]);
  strictEqual(rows.table, embed.table);
  throws(() => embed.rows([0, 5], 1, 2), /id 5 at 1 is not an integer in \[0, 5\)/);
  throws(() => embed.rows([0, 1, 2], 2, 2), /3 ids, expected T \* B = 4/);
  rows.ids.dispose();
  embed.dispose();
});

Deno.test("embedding().sequenceInput() folds a small table, looks a large one up: same values", async () => {
  const embed = embedding({ vocabSize: 5, size: 2, seed: 4 });
  const ids = [4, 1, 0, 2, 1, 3]; // T = 3, B = 2: 6 steps >= V = 5, rows
  const folded = embed.sequenceInput(ids, 3, 2);
  ok(!(folded instanceof tf.Tensor));
  const looked = embed.sequenceInput(ids.slice(0, 4), 2, 2); // 4 steps < V: vectors
  ok(looked instanceof tf.Tensor);
  deepStrictEqual(looked.shape, [2, 2, 2]);
  deepStrictEqual(await looked.array(), await embed.apply([[4, 1], [0, 2]]).array());
  embed.dispose();
});
