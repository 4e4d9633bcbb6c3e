/**
 * Variable-length batches (`lengths`, PyTorch's packed-sequence meaning),
 * forward through the stack, on cpu, wasm and webgpu, every cell kind, 1 and
 * 2 layers, bidirectional: a padded batch is the same as each sequence run
 * alone, garbage in the padding changes nothing, outputs past a length are 0;
 * full lengths equal no lengths (stack, cell object; cpu and wasm); bad lengths are
 * UsageErrors (stack, cell object, runSequence); no tensors leak; a relu rnn
 * that would overflow in its padding stays finite.
 * (PyTorch fixtures: lengths_torch_test.ts; cell objects and runSequence:
 * lengths_cell_test.ts; gradients: lengths_grad_test.ts.)
 */
import { deepStrictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { CellSpec, State } from "../../lib/cells/types.ts";
import type { Recurrent } from "../../lib/layers/stack.ts";
import { runSequence, useFusedSequences } from "../../lib/layers/sequence.ts";
import { initialWeights } from "../../lib/cells/init.ts";
import { disposeFused } from "../../lib/layers/cell.ts";
import { cellOf } from "../cells/_checks.ts";
import { rejectsWith } from "../cells/_helpers.ts";
import { onBackend, VARIANTS } from "../kernels/_helpers.ts";
import {
  assertNear,
  assertPaddingZero,
  assertSame,
  CASES,
  CONFIGS,
  D,
  H,
  paddedBatch,
  PROPERTY_BACKENDS,
  randomStates,
  row,
  sliceSequence,
  specOf,
  stackOf,
  stateRows,
  stateTensorList,
  TOL,
  type Worst,
  worst,
} from "./_lengths.ts";

// ---------------------------------------------------------------- stacks: each sequence alone

/**
 * Runs a padded batch with lengths and checks it against every sequence alone
 * (batch 1, T = its length, its row of the initial state), that the padding is
 * zero, and that other garbage (or zeros) in the padding changes nothing at all.
 */
async function checkAgainstAlone(
  stack: Recurrent,
  T: number,
  lengths: number[],
  seed: number,
  label: string,
) {
  const B = lengths.length;
  const W = stack.outputSize;
  const initialState = randomStates(
    seed + 1,
    stack.cells.length,
    B,
    H,
    stack.options.cell === "lstm",
  );
  const xs = tf.tensor3d(paddedBatch(seed, T, D, lengths, 1e3), [T, B, D]);
  const run = stack.forward(xs, { initialState, lengths });
  const out = await run.outputs.data();
  const states = await Promise.all(stateTensorList(run.state).map((t) => t.data()));
  assertPaddingZero(out, lengths, W, `${label} outputs`);

  for (const [b, n] of lengths.entries()) {
    const alone = tf.tensor3d(sliceSequence(await xs.data(), B, D, b, n), [n, 1, D]);
    const start = stateRows(initialState, b);
    const one = stack.forward(alone, { initialState: start });
    assertNear(
      sliceSequence(out, B, W, b, n),
      await one.outputs.data(),
      TOL,
      `${label} outputs of sequence ${b}`,
    );
    const aloneStates = stateTensorList(one.state);
    for (const [k, s] of aloneStates.entries()) {
      assertNear(
        row(states[k], H, b),
        await s.data(),
        TOL,
        `${label} final state ${k} of sequence ${b}`,
      );
    }
    tf.dispose([alone, one.outputs, ...aloneStates, ...stateTensorList(start)]);
  }

  // Zeros, then a different draw of garbage, in the padding only.
  for (const [garbage, junkSeed] of [[0, seed], [1e3, seed + 1]]) {
    const other = tf.tensor3d(paddedBatch(seed, T, D, lengths, garbage, junkSeed), [T, B, D]);
    await sameRun(stack, other, initialState, lengths, out, states, `${label} padding x${garbage}`);
    tf.dispose(other);
  }
  tf.dispose([xs, run.outputs, ...stateTensorList(run.state), ...stateTensorList(initialState)]);
}

async function sameRun(
  stack: Recurrent,
  xs: tf.Tensor3D,
  initialState: State[],
  lengths: number[],
  out: ArrayLike<number>,
  states: ArrayLike<number>[],
  label: string,
) {
  const run = stack.forward(xs, { initialState, lengths });
  assertSame(await run.outputs.data(), out, `${label} outputs`);
  for (const [k, s] of stateTensorList(run.state).entries()) {
    assertSame(await s.data(), states[k], `${label} state ${k}`);
  }
  tf.dispose([run.outputs, ...stateTensorList(run.state)]);
}

// webgpu too (llvmpipe here): its WGSL step kernels are a separate implementation.
for (const backend of [...PROPERTY_BACKENDS, "webgpu"]) {
  for (const [v, variant] of VARIANTS.entries()) {
    Deno.test(`recurrent(${variant.name}).forward with lengths = each sequence alone, padding ignored, on ${backend}`, async () => {
      await onBackend(backend, async () => {
        for (const [c, config] of CONFIGS.entries()) {
          for (const [s, { T, lengths }] of CASES.entries()) {
            const seed = 100 * v + 10 * c + s;
            const stack = stackOf(variant, config, seed);
            const label = `${variant.name} ${JSON.stringify(config)} T${T} [${lengths}] ${backend}`;
            await checkAgainstAlone(stack, T, lengths, 1000 + seed, label);
            stack.dispose();
          }
        }
      });
    });
  }
}

Deno.test("lengths all = T equal no lengths (stack, cell object), cpu and wasm", async () => {
  for (const backend of PROPERTY_BACKENDS) {
    await onBackend(backend, async () => {
      const [T, B] = [4, 3];
      const full = [T, T, T];
      for (const [v, variant] of VARIANTS.entries()) {
        const label = `${variant.name} on ${backend}`;
        const xs = tf.tensor3d(paddedBatch(v, T, D, full, 0), [T, B, D]);
        const stack = stackOf(variant, CONFIGS[2], v);
        const a = stack.forward(xs), b = stack.forward(xs, { lengths: full });
        assertNear(await b.outputs.data(), await a.outputs.data(), 1e-6, `${label} stack outputs`);
        for (const [k, s] of stateTensorList(b.state).entries()) {
          assertNear(
            await s.data(),
            await stateTensorList(a.state)[k].data(),
            1e-6,
            `${label} stack state ${k}`,
          );
        }
        const cell = cellOf(specOf(variant));
        const c1 = cell.forward(xs), c2 = cell.forward(xs, undefined, { lengths: full });
        assertNear(await c2.outputs.data(), await c1.outputs.data(), 1e-6, `${label} cell outputs`);
        assertNear(await c2.state.h.data(), await c1.state.h.data(), 1e-6, `${label} cell h`);
        tf.dispose([xs, a.outputs, b.outputs, c1.outputs, c2.outputs]);
        tf.dispose([...stateTensorList(a.state), ...stateTensorList(b.state)]);
        tf.dispose([...stateTensorList([c1.state, c2.state])]);
        stack.dispose();
        cell.dispose();
      }
    });
  }
});
// ---------------------------------------------------------------- bad lengths

Deno.test("bad lengths are UsageErrors naming lengths (stack, cell object, runSequence)", () => {
  const [T, B] = [4, 3];
  const xs = tf.zeros([T, B, D]) as tf.Tensor3D;
  const stack = stackOf(VARIANTS[4], CONFIGS[2], 1);
  const cell = cellOf(specOf(VARIANTS[3]));
  const spec = specOf(VARIANTS[0]);
  const weights = initialWeights(spec);
  const state = { h: tf.zeros([B, H]) as tf.Tensor2D };
  const runners: [string, (lengths: unknown) => unknown][] = [
    ["stack", (lengths) => stack.forward(xs, { lengths: lengths as number[] })],
    ["cell", (lengths) => cell.forward(xs, undefined, { lengths: lengths as number[] })],
    [
      "runSequence",
      (lengths) => runSequence(spec, weights, xs, state, { lengths: lengths as number[] }),
    ],
  ];
  const before = tf.memory().numTensors;
  for (const [name, run] of runners) {
    for (
      const bad of [
        [0, 2, 3],
        [4, 5, 1],
        [4, -1, 1],
        [1.5, 2, 3],
        [NaN, 2, 3],
        [4, 2],
        [4, 2, 3, 1],
        [],
        Int32Array.from([4, 0, 1]),
        Int32Array.from([4, 2]),
      ]
    ) {
      try {
        rejectsWith(() => run(bad), "lengths");
      } catch (e) {
        throw new Error(
          `${name} with lengths ${JSON.stringify(Array.from(bad))}: ${(e as Error).message}`,
        );
      }
    }
    // A tensor of the wrong shape or dtype.
    for (
      const bad of [
        tf.tensor1d([4, 2], "int32"),
        tf.tensor1d([4, 2, 1], "float32"),
        tf.tensor2d([[4, 2, 1]], undefined, "int32"),
      ]
    ) {
      try {
        rejectsWith(() => run(bad), "lengths");
      } catch (e) {
        throw new Error(
          `${name} with a ${bad.dtype} tensor [${bad.shape}]: ${(e as Error).message}`,
        );
      }
      bad.dispose();
    }
  }
  deepStrictEqual(tf.memory().numTensors, before, "nothing leaks when lengths are refused");
  tf.dispose([xs, state.h]);
  disposeFused(weights);
  stack.dispose();
  cell.dispose();
});

Deno.test("forward with lengths keeps the tensor count flat across repeated calls and gradients", () => {
  const stack = stackOf(VARIANTS[4], CONFIGS[2], 5);
  const { T, lengths } = CASES[0];
  const xs = tf.tensor3d(paddedBatch(3, T, D, lengths, 1e3), [T, lengths.length, D]);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      const { outputs, state } = stack.forward(xs, { lengths });
      return tf.add(tf.sum(outputs), tf.sum(state[3].c!)) as tf.Scalar;
    }, stack.trainableVariables);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  deepStrictEqual(tf.memory().numTensors, before);
  xs.dispose();
  stack.dispose();
});

/** The overflow case: outputs and final state (the gradient part is the test after this one). */
Deno.test("a relu rnn whose padded steps would overflow float32 still gives finite outputs and state", async () => {
  await overflowCase(false);
});

// Known limit, documented at runSequence: the padded steps are computed, so
// the weight gradient meets inf * 0 there. Run with the ignore removed to see it.
Deno.test({
  name: "a relu rnn whose padded steps would overflow float32 gives finite gradients",
  ignore: true,
  fn: () => overflowCase(true),
});

async function overflowCase(gradients: boolean): Promise<void> {
  // Sequence 1 has length 1 and h0 = 1; W_hh = 50 I, so running on through the
  // padding would reach 50^t (inf after ~23 steps). PyTorch never runs those steps.
  const [T, h] = [30, 3];
  const spec: CellSpec = { kind: "rnn", inputSize: 1, hiddenSize: h, nonlinearity: "relu" };
  const diagonal = Array.from(
    { length: h },
    (_, i) => Array.from({ length: h }, (_, j) => (i === j ? 50 : 0)),
  );
  const Wx = tf.zeros([1, h]) as tf.Tensor2D, b = tf.zeros([h]) as tf.Tensor1D;
  const Wh = tf.tensor2d(diagonal);
  const xs = tf.zeros([T, 2, 1]) as tf.Tensor3D;
  const h0 = tf.tensor2d([[0, 0, 0], [1, 1, 1]]);
  const lengths = [T, 1];
  const problems: string[] = [];
  for (const fused of [true, false]) {
    const previous = useFusedSequences(fused);
    const label = `${fused ? "fused" : "plain"} path`;
    try {
      const { outputs, state } = runSequence(spec, { Wx, Wh, b }, xs, { h: h0 }, { lengths });
      const out = await outputs.data();
      // Step 0 is [0, 0, 0 | 50, 50, 50]; every later step is 0 (sequence 0 stays at 0).
      const bad = out.findIndex((v, i) => v !== (i >= 3 && i < 6 ? 50 : 0));
      if (bad >= 0) {
        problems.push(`${label}: output ${bad} (step ${Math.floor(bad / 6)}) is ${out[bad]}`);
      }
      const final = Array.from(await state.h.data()).join();
      if (final !== "0,0,0,50,50,50") {
        problems.push(`${label}: final h ${final}, expected 0,0,0,50,50,50`);
      }
      if (gradients) {
        const g = tf.grad((w: tf.Tensor) =>
          tf.sum(
            runSequence(spec, { Wx, Wh: w as tf.Tensor2D, b }, xs, { h: h0 }, { lengths }).state.h,
          )
        )(Wh);
        const dW = await g.data();
        if (!dW.every(Number.isFinite)) problems.push(`${label}: dW_hh ${Array.from(dW)}`);
        g.dispose();
      }
      tf.dispose([outputs, state.h]);
    } finally {
      useFusedSequences(previous);
    }
  }
  tf.dispose([xs, h0, Wx, Wh, b]);
  deepStrictEqual(problems, []);
}

Deno.test("largest differences seen (report)", () => {
  const line = (w: Worst) => `${w.value.toExponential(2)} (${w.label})`;
  // 0 means every comparison was bit-identical.
  console.log(`lengths_test: largest |difference| in the forward checks ${line(worst)}`);
});
