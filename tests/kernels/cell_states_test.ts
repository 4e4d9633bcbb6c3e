/**
 * The `cellStates` option of the sequence kernels (LSTM cell state after every
 * step, `cells` `[T, B, H]`, differentiable) against two independent references:
 * - plain tf ops, one step at a time (`_plain.ts`), differentiated by tfjs
 *   autograd: cells, outputs and final state to 1e-5, every gradient of a loss
 *   over outputs + cells + final state to 1e-4 relative; fusedSequence on cpu,
 *   wasm and webgpu, webgpuSequence (WGSL) on webgpu;
 * - a plain-JS float64 LSTM (`_reference64.ts`), differentiated by central
 *   finite differences, for fusedSequence with the cells in the loss.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../../lib/cells/types.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
import { webgpuSequence } from "../../lib/kernels/webgpu/sequence.ts";
import { plainStep } from "./_plain.ts";
import {
  assertClose,
  type CaseData,
  type CaseTensors,
  caseTensors,
  gradient64,
  makeCase,
  normals,
  onBackend,
  params64,
  unpack,
  VARIANTS,
} from "./_helpers.ts";
import { finiteDifferencesOf, forward64, type Params64 } from "./_reference64.ts";
import { Rng } from "../../lib/rng.ts";

const LSTM = VARIANTS[4];
const WITH_CELLS = { cellStates: true };

/** A sequence function that returns `cells` (or declines with null). */
type CellsFn = (
  spec: CellSpec,
  weights: FusedWeights,
  xs: tf.Tensor3D,
  state: State,
) => SequenceResult | null;

const fusedCells: CellsFn = (spec, w, xs, s) => fusedSequence(spec, w, xs, s, WITH_CELLS);
const webgpuCells: CellsFn = (spec, w, xs, s) => webgpuSequence(spec, w, xs, s, WITH_CELLS);

/** The plain per-step LSTM, collecting every step's `c`. */
const plainCells: CellsFn = (spec, w, xs, state) => {
  const [T, B, D] = xs.shape;
  let s: State = { h: state.h, c: state.c ?? tf.zeros([B, spec.hiddenSize]) };
  const hs: tf.Tensor[] = [], cs: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const x = tf.reshape(tf.slice(xs, [t, 0, 0], [1, B, D]), [B, D]);
    s = plainStep(spec, w, x, s);
    hs.push(s.h), cs.push(s.c!);
  }
  return { outputs: tf.stack(hs) as tf.Tensor3D, state: s, cells: tf.stack(cs) as tf.Tensor3D };
};

/** Loss weights of the cells `[T, B, H]`, from the case's seed stream. */
function cellWeights(c: CaseData, seed: number): Float32Array {
  return normals(new Rng(seed), c.T * c.B * c.spec.hiddenSize);
}

/** Σ outputs·R + Σ cells·Rcells + Σ h·Rh + Σ c·Rc as a function of the case's inputs. */
function lossWithCells(f: CellsFn, spec: CellSpec, t: CaseTensors, Rcells: tf.Tensor3D) {
  return (...inputs: tf.Tensor[]): tf.Scalar => {
    const { weights, xs, state } = unpack(t.names, inputs);
    const r = f(spec, weights, xs, state);
    if (r === null || r.cells === undefined) throw new Error("no cell states");
    return tf.addN([
      tf.sum(tf.mul(r.outputs, t.R)),
      tf.sum(tf.mul(r.cells, Rcells)),
      tf.sum(tf.mul(r.state.h, t.Rh)),
      tf.sum(tf.mul(r.state.c!, t.Rc)),
    ]) as tf.Scalar;
  };
}

function disposeResult(r: SequenceResult | null): void {
  if (r) tf.dispose([r.outputs, r.state.h, ...[r.state.c, r.cells].filter((x) => x !== undefined)]);
}

/** Largest relative gradient difference seen, per implementation (reported at the end). */
const worst: Record<string, number> = {};

async function maxRel(a: tf.Tensor, e: tf.Tensor): Promise<number> {
  const [x, y] = [await a.data(), await e.data()];
  let scale = 0, d = 0;
  for (let i = 0; i < y.length; i++) {
    scale = Math.max(scale, Math.abs(y[i])), d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d / scale;
}

async function compareWithPlain(f: CellsFn, c: CaseData, label: string): Promise<void> {
  const t = caseTensors(c);
  const H = c.spec.hiddenSize;
  const Rcells = tf.tensor3d(cellWeights(c, 77), [c.T, c.B, H]);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const got = f(c.spec, weights, xs, state);
  ok(got !== null && got.cells !== undefined, `${label}: no cells`);
  ok(got.cells.shape.join() === `${c.T},${c.B},${H}`, `${label}: cells [${got.cells.shape}]`);
  const want = plainCells(c.spec, weights, xs, state)!;
  await assertClose(got.cells, want.cells!, 0, `${label} cells`, 1e-5);
  await assertClose(got.outputs, want.outputs, 0, `${label} outputs`, 1e-5);
  await assertClose(got.state.h, want.state.h, 0, `${label} h`, 1e-5);
  await assertClose(got.state.c!, want.state.c!, 0, `${label} c`, 1e-5);
  const gGot = tf.grads(lossWithCells(f, c.spec, t, Rcells))(t.inputs);
  const gWant = tf.grads(lossWithCells(plainCells, c.spec, t, Rcells))(t.inputs);
  const key = label.split(" ").slice(0, 2).join(" ");
  for (const [i, name] of t.names.entries()) {
    await assertClose(gGot[i], gWant[i], 1e-4, `${label} d${name}`);
    worst[key] = Math.max(worst[key] ?? 0, await maxRel(gGot[i], gWant[i]));
  }
  disposeResult(got), disposeResult(want);
  tf.dispose([...t.inputs, t.R, t.Rh, t.Rc, Rcells, ...gGot, ...gWant]);
}

const SMALL = { T: 7, B: 3, D: 5, H: 4 };
const WIDER = { T: 12, B: 8, D: 10, H: 16 };
const EDGES = [{ T: 1, B: 1, D: 1, H: 1 }, { T: 1, B: 2, D: 3, H: 3 }, { T: 3, B: 1, D: 2, H: 5 }];
// H = 3, 5: one unit per invocation; H = 8: vec4 with row tiles of 1 (B = 3) and 4 (B = 4).
const WEBGPU_SHAPES = [
  { T: 1, B: 1, D: 2, H: 3 },
  { T: 5, B: 3, D: 4, H: 8 },
  { T: 4, B: 2, D: 3, H: 5 },
  { T: 4, B: 4, D: 3, H: 8 },
];

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`fusedSequence({ cellStates }) equals plain tf ops and their autograd on ${backend}`, async () => {
    await onBackend(backend, async () => {
      await compareWithPlain(fusedCells, makeCase(LSTM, SMALL, 1100), `fused ${backend} small`);
      if (backend !== "webgpu") {
        await compareWithPlain(
          fusedCells,
          makeCase(LSTM, WIDER, 1200, 0.25),
          `fused ${backend} wider`,
        );
        for (const [e, dims] of EDGES.entries()) {
          await compareWithPlain(
            fusedCells,
            makeCase(LSTM, dims, 1300 + e),
            `fused ${backend} edge`,
          );
        }
      }
    });
  });
}

Deno.test("webgpuSequence({ cellStates }) equals plain tf ops and their autograd on webgpu", async () => {
  await onBackend("webgpu", async () => {
    for (const [s, dims] of WEBGPU_SHAPES.entries()) {
      await compareWithPlain(
        webgpuCells,
        makeCase(LSTM, dims, 1400 + s),
        `webgpu wgsl ${JSON.stringify(dims)}`,
      );
    }
  });
});

/** Every step's `c` in float64: the final `c` of the first `t+1` steps. */
function cells64(spec: CellSpec, p: Params64): Float64Array[] {
  return p.xs.map((_, t) => forward64(spec, { ...p, xs: p.xs.slice(0, t + 1) }).c);
}

/** The float64 version of {@linkcode lossWithCells}. */
function loss64(spec: CellSpec, p: Params64, c: CaseData, Rcells: Float32Array): number {
  const { hs, h, c: cT } = forward64(spec, p);
  const n = c.B * spec.hiddenSize;
  let s = 0;
  hs.forEach((ht, t) => ht.forEach((v, k) => (s += v * c.R[t * n + k])));
  cells64(spec, p).forEach((ct, t) => ct.forEach((v, k) => (s += v * Rcells[t * n + k])));
  h.forEach((v, k) => (s += v * c.Rh[k]));
  cT.forEach((v, k) => (s += v * c.Rc[k]));
  return s;
}

Deno.test("fusedSequence({ cellStates }) gradients equal float64 central finite differences", async () => {
  const c = makeCase(LSTM, { T: 4, B: 2, D: 3, H: 3 }, 1500);
  const Rcells = cellWeights(c, 78);
  const p = params64(c);
  const t = caseTensors(c);
  const RcellsT = tf.tensor3d(Rcells, [c.T, c.B, 3]);
  // The forward pass first: float32 cells vs float64 ones.
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const r = fusedCells(c.spec, weights, xs, state)!;
  const ref = new Float64Array(cells64(c.spec, p).flatMap((x) => [...x]));
  await assertClose(r.cells!, ref, 0, "cells vs float64", 1e-5);
  const grads = tf.grads(lossWithCells(fusedCells, c.spec, t, RcellsT))(t.inputs);
  const fd = (values: Float64Array) =>
    finiteDifferencesOf(() => loss64(c.spec, p, c, Rcells), values);
  let worstFd = 0;
  for (const [i, name] of t.names.entries()) {
    const want = gradient64(p, name, fd);
    await assertClose(grads[i], want, 1e-4, `d${name} vs finite differences`, 1e-6);
    const got = await grads[i].data();
    let scale = 0, d = 0;
    want.forEach((
      v,
      k,
    ) => (scale = Math.max(scale, Math.abs(v)), d = Math.max(d, Math.abs(got[k] - v))));
    worstFd = Math.max(worstFd, d / scale);
  }
  console.log(`finite differences: worst relative gradient difference ${worstFd.toExponential(2)}`);
  disposeResult(r);
  tf.dispose([...t.inputs, t.R, t.Rh, t.Rc, RcellsT, ...grads]);
});

Deno.test("cellStates changes nothing else: same outputs and state, bit for bit", async () => {
  for (const backend of ["cpu", "webgpu"]) {
    await onBackend(backend, async () => {
      for (const dims of [SMALL, { T: 3, B: 2, D: 3, H: 8 }]) {
        const c = makeCase(LSTM, dims, 1600);
        const t = caseTensors(c);
        const { weights, xs, state } = unpack(t.names, t.inputs);
        const fns: [string, typeof fusedSequence][] = [["fused", fusedSequence]];
        if (backend === "webgpu") fns.push(["wgsl", webgpuSequence as typeof fusedSequence]);
        for (const [name, f] of fns) {
          const a = f(c.spec, weights, xs, state), b = f(c.spec, weights, xs, state, WITH_CELLS);
          ok(a.cells === undefined, `${name}: no cells unless asked for`);
          const label = `${backend} ${name}`;
          await assertClose(b.outputs, a.outputs, 0, `${label} outputs`, 0);
          await assertClose(b.state.h, a.state.h, 0, `${label} h`, 0);
          await assertClose(b.state.c!, a.state.c!, 0, `${label} c`, 0);
          disposeResult(a), disposeResult(b);
        }
        tf.dispose([...t.inputs, t.R, t.Rh, t.Rc]);
      }
    });
  }
});

Deno.test("cellStates is ignored for rnn and gru", async () => {
  for (const backend of ["cpu", "webgpu"]) {
    await onBackend(backend, () => {
      for (const variant of VARIANTS.slice(0, 4)) {
        const c = makeCase(variant, { T: 3, B: 2, D: 3, H: 4 }, 1700);
        const t = caseTensors(c);
        const { weights, xs, state } = unpack(t.names, t.inputs);
        const rs = [fusedCells(c.spec, weights, xs, state)];
        if (backend === "webgpu") rs.push(webgpuCells(c.spec, weights, xs, state));
        for (const r of rs) {
          ok(r !== null && r.cells === undefined && r.state.c === undefined, variant.name);
          disposeResult(r);
        }
        tf.dispose([...t.inputs, t.R, t.Rh, t.Rc]);
      }
    });
  }
});

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`cellStates keeps the tensor count flat over 10 training steps on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const fns: [string, CellsFn][] = [["fused", fusedCells]];
      if (backend === "webgpu") fns.push(["wgsl", webgpuCells]);
      for (const [name, f] of fns) {
        const c = makeCase(LSTM, { T: 4, B: 2, D: 3, H: 8 }, 1800);
        const t = caseTensors(c);
        const Rcells = tf.tensor3d(cellWeights(c, 79), [c.T, c.B, 8]);
        const { weights, xs, state } = unpack(t.names, t.inputs);
        const vars = {
          Wx: tf.variable(weights.Wx),
          Wh: tf.variable(weights.Wh),
          b: tf.variable(weights.b),
        };
        const lr = tf.scalar(0.01);
        const step = () => {
          const { grads, value } = tf.variableGrads(() => {
            const r = f(c.spec, vars, xs, state)!;
            return tf.add(
              tf.sum(tf.mul(r.cells!, Rcells)),
              tf.sum(tf.mul(r.outputs, t.R)),
            ) as tf.Scalar;
          });
          tf.tidy(() => {
            for (const v of Object.values(vars)) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
          });
          tf.dispose([value, ...Object.values(grads)]);
        };
        step();
        const before = tf.memory().numTensors;
        for (let i = 0; i < 10; i++) step();
        const after = tf.memory().numTensors;
        console.log(`${backend} ${name}: numTensors ${before} before, ${after} after 10 steps`);
        ok(after === before, `${backend} ${name}: ${before} tensors before, ${after} after`);
        ok((await vars.Wh.data()).every(Number.isFinite), "Wh finite");
        tf.dispose([...Object.values(vars), lr, Rcells, ...t.inputs, t.R, t.Rh, t.Rc]);
      }
    });
  });
}

Deno.test("worst relative gradient differences against plain autograd (report)", () => {
  for (const [k, v] of Object.entries(worst)) console.log(`${k}: ${v.toExponential(2)}`);
});
