/**
 * The native backend in the backend lists of the comparison tests, where it
 * can be had: `["native"]` when the kernels build here (a C compiler,
 * `--allow-ffi`, `--allow-run`), else `[]` (`deno task test` passes without a
 * compiler; tests/native/ covers that path on its own).
 */
import { loadNative } from "../lib/native/build.ts";
import "../lib/native/backend.ts";

/** `["native"]` or `[]`. */
export const NATIVE: string[] = (await loadNative()).ok ? ["native"] : [];
