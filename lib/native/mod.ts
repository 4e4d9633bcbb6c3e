/**
 * The native backend: C kernels compiled on first use and called through
 * `Deno.dlopen`.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./build.ts";
