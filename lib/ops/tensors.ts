/**
 * The tfjs tensor types under names of our own, so that the public
 * signatures of cells, kernels and layers name documented, exported types
 * (`deno doc --lint` counts a type it cannot see exported as private).
 *
 * @example Typing a tensor
 * ```ts
 * import type { Tensor2D } from "./tensors.ts";
 * import { tf } from "../tf.ts";
 * const x: Tensor2D = tf.zeros([2, 3]);
 * console.log(x.shape);
 * ```
 *
 * @module
 */
import type { tf } from "../tf.ts";

/** A tensor of any rank (tfjs's `Tensor`). */
export type Tensor = tf.Tensor;
/** A rank-0 tensor. */
export type Scalar = tf.Scalar;
/** A rank-1 tensor: a vector. */
export type Tensor1D = tf.Tensor1D;
/** A rank-2 tensor: a matrix, `[rows, columns]`. */
export type Tensor2D = tf.Tensor2D;
/** A rank-3 tensor, e.g. a sequence `[T, B, D]`. */
export type Tensor3D = tf.Tensor3D;
/** A rank-4 tensor. */
export type Tensor4D = tf.Tensor4D;
/** A trainable tensor of any rank (tfjs's `Variable`). */
export type Variable = tf.Variable;
/** A trainable vector, e.g. a bias. */
export type Variable1D = Variable & Tensor1D;
/** A trainable matrix, e.g. a kernel. */
export type Variable2D = Variable & Tensor2D;
/** A tensor's element type: "float32", "int32", "bool", ... */
export type DataType = tf.DataType;
/** A backend's view of a tensor (kernels and programs). */
export type TensorInfo = tf.TensorInfo;
/** Kernel inputs by name, as backends see them. */
export type NamedTensorInfoMap = tf.NamedTensorInfoMap;
/** Tensors by name. */
export type NamedTensorMap = tf.NamedTensorMap;
/** What `tf.tidy` may return: tensors in any nesting of arrays and records. */
export type TensorContainer = tf.TensorContainer;
/** The `save` callback of `tf.customGrad`. */
export type GradSaveFunc = tf.GradSaveFunc;
/** An optimizer (tfjs's `Optimizer`: sgd, adam, ...). */
export type Optimizer = tf.Optimizer;
/** A trainable scalar, e.g. an optimizer's step count. */
export type VariableScalar = Variable & Scalar;
