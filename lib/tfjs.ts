/**
 * TensorFlow.js for users of `mod.ts`: the same instance (same engine, same
 * registered backends and kernels) that the library runs on, typed as a value
 * so that the public API's documentation stops at our own symbols instead of
 * listing tfjs's thousand undocumented internals.
 *
 * For tfjs's types, import them from the same pinned specifier
 * (`import type { Tensor } from "npm:@tensorflow/tfjs@4.22.0"`), or use the
 * project's names (`Tensor2D`, `Tensor3D`, ... from `mod.ts`). Importing
 * `npm:@tensorflow/tfjs@4.22.0` yourself also gives this same instance: Deno
 * loads one copy of a package version per process.
 *
 * @module
 */
import { tf as tfNamespace } from "./tf.ts";

/**
 * The TensorFlow.js namespace (`tf.tensor`, `tf.tidy`, `tf.memory`, ...).
 *
 * @example Make a tensor on the library's engine
 * ```ts
 * import { tf } from "./tfjs.ts";
 * import { useBackend } from "./tf.ts";
 * await useBackend("cpu");
 * const x = tf.tensor([1, 2, 3]);
 * console.log(x.sum().dataSync()[0]); // 6
 * ```
 */
export const tf: typeof tfNamespace = tfNamespace;
