/**
 * Test helpers: onnxruntime-web (plain wasm) run inside Deno, random
 * weights for every variable of a model, and a closeness check.
 *
 * @module
 */
import * as ort from "npm:onnxruntime-web@1.30.0";
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import type { State } from "../../lib/cells/types.ts";

ort.env.wasm.numThreads = 1;

/** A value to feed: int64 from JS ids, int32 lengths, or float32 states. */
export type Feed = { int64: number[]; dims: number[] } | { int32: number[]; dims: number[] } | {
  float: ArrayLike<number>;
  dims: number[];
};

/** Runs ONNX bytes on the feeds; returns every output as a Float32Array with its dims. */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: Record<string, Feed>,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes);
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(feeds)) {
    tensors[name] = "int64" in feed
      ? new ort.Tensor("int64", BigInt64Array.from(feed.int64.map(BigInt)), feed.dims)
      : "int32" in feed
      ? new ort.Tensor("int32", Int32Array.from(feed.int32), feed.dims)
      : new ort.Tensor("float32", Float32Array.from(feed.float), feed.dims);
  }
  const out = await session.run(tensors);
  await session.release();
  return Object.fromEntries(
    Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]),
  );
}

/** Replaces every variable with N(0, 0.5²) draws (rows of `zeroRows` tables stay zero). */
export function randomize(variables: tf.Variable[], seed: number): void {
  const rng = new Rng(seed);
  for (const v of variables) {
    const values = new Float32Array(v.size);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * 0.5;
    v.assign(tf.tensor(values, v.shape));
  }
}

/** Sets one row of a table to zero (a padding id's row). */
export function zeroRow(table: tf.Variable, row: number): void {
  const values = table.dataSync().slice();
  const width = table.shape[1]!;
  values.fill(0, row * width, (row + 1) * width);
  table.assign(tf.tensor(values, table.shape));
}

/** Asserts two arrays agree elementwise to `tol` (absolute), naming the worst index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): number {
  ok(
    actual.length === expected.length,
    `${what}: ${actual.length} values, expected ${expected.length}`,
  );
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  ok(worst <= tol, `${what}: |${actual[at]} - ${expected[at]}| = ${worst} at ${at}, tol ${tol}`);
  return worst;
}

/** Our per-layer states as one `[N, B, H]` array (ONNX's `hn`/`cn` layout). */
export function stacked(states: State[], key: "h" | "c"): Float32Array {
  return tf.tidy(() => tf.stack(states.map((s) => s[key]!)).dataSync() as Float32Array);
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rnn_export_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
