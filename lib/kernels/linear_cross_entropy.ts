/**
 * A dense layer and the mean softmax cross-entropy of its logits as one
 * differentiable op, the loss of a language model:
 * `softmaxCrossEntropy(linear(x, W, b), targets)`.
 *
 * On the native backend the op is one `customGrad` whose passes call the C
 * kernels themselves: the product, the bias, the loss; then the loss's
 * gradient and the two gradient products. The two ops dispatch about ten tfjs
 * kernels a step for the same work (transposes, adds, sums), each with a
 * fresh output tensor. The calls and their order are those the kernels make,
 * so the values are the same bit for bit. On every other backend it is the
 * two ops.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Scalar, Tensor, Tensor1D, Tensor2D } from "../ops/tensors.ts";
import type { NativeSymbols } from "../native/build.ts";
import { checkLength, nativeKernels, valuesOf } from "../native/backend.ts";
import { linear } from "./linear.ts";
import { softmaxCrossEntropy } from "./softmax_cross_entropy.ts";

const WHO = "linearCrossEntropy";

/** Throws unless x [N, K], W [K, C], b [C] and N targets fit together. */
function checkShapes(x: Tensor2D, W: Tensor2D, b: Tensor1D, targets: Int32Array): void {
  if (
    x.rank !== 2 || W.rank !== 2 || b.rank !== 1 || x.shape[1] !== W.shape[0] ||
    b.shape[0] !== W.shape[1] || targets.length !== x.shape[0]
  ) {
    throw new Error(
      `${WHO}: expected x [N, K], W [K, C], b [C] and N targets, got x [${x.shape}], ` +
        `W [${W.shape}], b [${b.shape}] and ${targets.length} targets`,
    );
  }
}

/**
 * The mean softmax cross-entropy of `x W + b` against `targets`.
 *
 * @param x inputs `[N, K]`.
 * @param W kernel `[K, C]`.
 * @param b bias `[C]`.
 * @param targets `[N]` class ids in `[0, C)`.
 * @returns a scalar (nats per row), differentiable in `x`, `W` and `b`; the caller's.
 * @throws {Error} for shapes that do not fit, or (native) a target outside `[0, C)`.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const loss = linearCrossEntropy(
 *   tf.ones([2, 3]) as tf.Tensor2D,
 *   tf.zeros([3, 4]) as tf.Tensor2D,
 *   tf.zeros([4]) as tf.Tensor1D,
 *   Int32Array.of(1, 3),
 * );
 * ok(Math.abs((await loss.data())[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function linearCrossEntropy(
  x: Tensor2D,
  W: Tensor2D,
  b: Tensor1D,
  targets: Int32Array,
): Scalar {
  checkShapes(x, W, b, targets);
  const lib = nativeKernels();
  if (!lib || [x, W, b].some((t) => t.dtype !== "float32")) {
    return tf.tidy(() => softmaxCrossEntropy(linear(x, W, b), tf.tensor1d(targets, "int32")));
  }
  return nativeOp(lib, x.shape[0], x.shape[1], W.shape[1], targets)(x, W, b) as Scalar;
}

/** The values of a float32 tensor, checked to hold n (a wrong size throws before any C call). */
function valuesChecked(t: Tensor, what: string, n: number): Float32Array {
  const values = valuesOf(tf.backend(), t);
  checkLength(WHO, what, values, n);
  return values;
}

/** The op on native for x [N, K], W [K, C]: C calls, no logits or transposed tensors. */
function nativeOp(lib: NativeSymbols, N: number, K: number, C: number, targets: Int32Array) {
  return tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [x, W, b, save] = args as [Tensor2D, Tensor2D, Tensor1D, GradSaveFunc];
    const X = valuesChecked(x, "x", N * K), Wv = valuesChecked(W, "W", K * C);
    const bias = valuesChecked(b, "b", C);
    // x W, then + b rounded to float32: what the MatMul and Add kernels compute
    const logits = new Float32Array(N * C);
    lib.rnn_gemm(0, 0, N, C, K, X, K, Wv, C, logits, C, 0);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < C; j++) logits[n * C + j] = Math.fround(logits[n * C + j] + bias[j]);
    }
    const probs = new Float32Array(N * C), loss = new Float32Array(1);
    const status = lib.rnn_xent_forward(N, C, logits, targets, null, probs, loss);
    if (status !== 0) {
      throw new Error(`${WHO}: label ${targets[status - 1]} at ${status - 1} is outside [0, ${C})`);
    }
    save([x, W]);
    const gradFunc = (dy: Tensor, saved: Tensor[]) => {
      const Xs = valuesChecked(saved[0], "x", N * K), Ws = valuesChecked(saved[1], "W", K * C);
      const dl = new Float32Array(N * C);
      lib.rnn_xent_backward(N, C, valuesChecked(dy, "dy", 1)[0], probs, targets, null, dl);
      const dx = new Float32Array(N * K), dW = new Float32Array(K * C);
      lib.rnn_gemm(0, 1, N, K, C, dl, C, Ws, C, dx, K, 0); // dl W^T
      lib.rnn_gemm(1, 0, K, C, N, Xs, K, dl, C, dW, C, 0); // x^T dl
      return [tf.tensor2d(dx, [N, K]), tf.tensor2d(dW, [K, C]), tf.tensor1d(columnSums(dl, N, C))];
    };
    return { value: tf.scalar(loss[0]), gradFunc };
  });
}

/** Column sums of m [N, C] in float64, rows in order, rounded once: the Sum kernel's. */
function columnSums(m: Float32Array, N: number, C: number): Float32Array {
  const sums = new Float64Array(C);
  for (let n = 0; n < N; n++) for (let j = 0; j < C; j++) sums[j] += m[n * C + j];
  return Float32Array.from(sums);
}
