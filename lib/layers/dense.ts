/**
 * A fully connected layer `y = x W + b` (d2l §3.4, PyTorch's `nn.Linear`)
 * with its weights in variables, applied to `[N, in]` rows or to a whole
 * time-major sequence `[T, B, in]` at once.
 *
 * The matmul's gradient avoids tfjs's slow transposed matmuls on wasm (see
 * `linear` in lib/kernels/linear.ts).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type {
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Variable,
  Variable1D,
  Variable2D,
} from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { normalMatrix, xavierMatrix } from "../cells/init.ts";
import { linear } from "../kernels/linear.ts";
import { matMul } from "../ops/matmul.ts";

/**
 * How to draw the kernel:
 * - `normal`: N(0, 0.01²), d2l's `torch.randn(shape) * 0.01`;
 * - `xavier`: Glorot uniform U(-a, a), a = sqrt(6 / (in + out)), d2l's
 *   `init_seq2seq` (`nn.init.xavier_uniform_`).
 */
export type DenseInit = "normal" | "xavier";

/** Options of {@linkcode dense}. */
export interface DenseOptions {
  /** The width of each input. */
  inputSize: number;
  /** The width of each output. */
  outputSize: number;
  /** Add a bias `b [out]` (starts at zero). @default true */
  bias?: boolean;
  /** Seed of the initial kernel. @default 0 */
  seed?: number;
  /** How to draw the kernel. @default "xavier" */
  init?: DenseInit;
  /**
   * The random stream to draw the kernel from instead of one seeded by
   * `seed`, for a model that builds its layers in turn from one stream.
   */
  rng?: Rng;
}

/** What {@linkcode dense} returns. */
export interface Dense {
  /** The width of each input. */
  readonly inputSize: number;
  /** The width of each output. */
  readonly outputSize: number;
  /** W `[in, out]` (the transpose of PyTorch's `nn.Linear.weight`). */
  readonly kernel: Variable2D;
  /** b `[out]`, unless built with `bias: false`. */
  readonly bias?: Variable1D;
  /** `[kernel, bias]` (or `[kernel]`). */
  readonly trainableVariables: Variable[];
  /**
   * `x W + b` over the last axis.
   *
   * @param x `[N, in]` or `[T, B, in]` (not disposed).
   * @returns `[N, out]` or `[T, B, out]`, a new tensor the caller disposes.
   * @throws {UsageError} for another rank or a last axis that is not `in`.
   */
  apply<T extends Tensor2D | Tensor3D>(x: T): T;
  /** Frees the variables. */
  dispose(): void;
}

/**
 * A dense layer with its weights in variables.
 *
 * @example Map a sequence's hidden states to logits
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { dense } from "./dense.ts";
 * const out = dense({ inputSize: 4, outputSize: 10, seed: 1 });
 * const logits = out.apply(tf.ones([5, 2, 4]) as tf.Tensor3D); // [T, B, 4] -> [T, B, 10]
 * deepStrictEqual(logits.shape, [5, 2, 10]);
 * logits.dispose();
 * out.dispose();
 * ```
 */
export function dense(options: DenseOptions): Dense {
  const { inputSize, outputSize, bias = true, seed = 0, init = "xavier" } = options;
  const action = "Cannot build a dense layer";
  for (const [name, value] of [["inputSize", inputSize], ["outputSize", outputSize]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`${action}: ${name} is ${value}, expected an integer >= 1`);
    }
  }
  if (init !== "normal" && init !== "xavier") {
    throw new UsageError(`${action}: init is "${init}", expected one of normal, xavier`);
  }
  const rng = options.rng ?? new Rng(seed);
  const values = init === "normal"
    ? normalMatrix(inputSize, outputSize, rng)
    : xavierMatrix(inputSize, outputSize, rng);
  const kernel = tf.variable(
    tf.tensor2d(Float32Array.from(values), [inputSize, outputSize]),
    true,
  );
  const b = bias ? tf.variable(tf.zeros([outputSize]) as Tensor1D, true) : undefined;
  return {
    inputSize,
    outputSize,
    kernel,
    bias: b,
    trainableVariables: b ? [kernel, b] : [kernel],
    apply<T extends Tensor2D | Tensor3D>(x: T): T {
      if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== inputSize) {
        throw new UsageError(
          `Cannot apply a dense layer: x has shape [${x.shape}], expected [N, ${inputSize}] or [T, B, ${inputSize}]`,
        );
      }
      return tf.tidy(() => {
        const rows = tf.reshape(x, [-1, inputSize]) as Tensor2D; // [N or T*B, in]
        const y = b ? linear(rows, kernel, b) : matMul(rows, kernel as Tensor2D); // [.., out]
        const out: Tensor = tf.reshape(y, [...x.shape.slice(0, -1), outputSize]);
        return out as T; // [N, out] or [T, B, out]
      });
    },
    dispose: () => tf.dispose(b ? [kernel, b] : [kernel]),
  };
}
