/**
 * How this machine's cores take more threads, for a benchmark's record. A VM's
 * two vCPUs may be two physical cores or two halves of one (this project's
 * 2-core machines switch between the two within minutes): then a second
 * thread adds little to arithmetic-bound work, ours and PyTorch's alike, and
 * 2-thread figures fall to about 1-thread ones. The native kernels' probe
 * times a multiply-add loop on one thread, then on every thread at once.
 *
 * @module
 */
import { nativeKernels } from "../lib/native/backend.ts";

/** Rounds of 512 flops: about 10 ms a thread at 200 GFLOP/s. */
const ROUNDS = 4_000_000n;

/** One probe's figures, GFLOP/s of multiply-adds. */
export interface CoreProbe {
  /** One thread alone. */
  alone: number;
  /** Each thread while all run at once. */
  together: number[];
}

/**
 * Probes the native backend's threads, or undefined when it is not loaded.
 *
 * @example Off the native backend there is nothing to probe
 * ```ts
 * import { ok } from "node:assert";
 * const probe = probeCores();
 * ok(probe === undefined || probe.together.length >= 1);
 * ```
 */
export function probeCores(): CoreProbe | undefined {
  const lib = nativeKernels();
  if (!lib) return undefined;
  const out = new Float64Array(65);
  const threads = lib.rnn_core_probe(ROUNDS, out);
  return { alone: out[0], together: Array.from(out.subarray(1, 1 + threads)) };
}

/**
 * A probe as one line: `cores: 1 thread 221 GFLOP/s of multiply-adds, 2 at once
 * 438 (1.98x)`, with a warning when the threads share cores.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(describeCores({ alone: 200, together: [110, 100] }).includes("share"));
 * ok(!describeCores({ alone: 200, together: [200, 190] }).includes("share"));
 * ```
 */
export function describeCores(probe: CoreProbe): string {
  const n = probe.together.length, sum = probe.together.reduce((a, b) => a + b, 0);
  const speedup = sum / probe.alone;
  let line = `cores: 1 thread ${probe.alone.toFixed(0)} GFLOP/s of multiply-adds`;
  if (n === 1) return line;
  line += `, ${n} at once ${sum.toFixed(0)} (${speedup.toFixed(2)}x)`;
  if (speedup < 0.75 * n) {
    line += `: the threads share physical cores, so ${n}-thread figures (any library's) ` +
      `are lower than this machine gives with cores of their own`;
  }
  return line;
}

/** Probes taken before and after a benchmark's runs (the machine can change in between). */
export interface CoreRecord {
  /** Before the runs. */
  coresBefore?: CoreProbe;
  /** After them. */
  coresAfter?: CoreProbe;
}

/**
 * The record's lines, to stderr through `write` (nothing off the native backend).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const lines: string[] = [];
 * reportCores({ coresBefore: { alone: 200, together: [200] } }, (l) => lines.push(l));
 * deepStrictEqual(lines, ["cores: 1 thread 200 GFLOP/s of multiply-adds (before the runs)"]);
 * ```
 */
export function reportCores(record: CoreRecord, write: (line: string) => void): void {
  if (record.coresBefore) write(`${describeCores(record.coresBefore)} (before the runs)`);
  if (record.coresAfter) write(`${describeCores(record.coresAfter)} (afterwards)`);
}
