/**
 * The PyTorch peer of `deno task bench`: runs `scripts/torch_anchor.py`
 * with a Python that has torch, and reads its JSON lines.
 *
 * @module
 */

import { existsSync } from "node:fs";

import { type CellKind } from "../lib/cells/types.ts";

import { type BenchOptions, progress } from "./_bench_common.ts";
import { listOf } from "./_cli.ts";

// ---- PyTorch --------------------------------------------------------------------

/**
 * The first Python with torch: `python3` on PATH (where `pip install
 * torch==2.13.0` puts the official wheel), then Debian's `/usr/bin/python3`.
 */
export async function findTorchPython(): Promise<string | null> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const { success } = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return python;
    } catch { /* not installed */ }
  }
  return null;
}

/** `python`'s torch version, e.g. "2.13.0+cpu", or "unknown". */
export async function torchVersion(python: string): Promise<string> {
  const out = await new Deno.Command(python, {
    args: ["-c", "import torch; print(torch.__version__)"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
}

/**
 * The Python a peer bench runs: `--python` when given, else
 * {@linkcode findTorchPython}'s; throws when none has torch.
 */
export async function peerPython(flag: string): Promise<string> {
  if (flag) return flag;
  const found = await findTorchPython();
  if (found) return found;
  throw new Error(
    "no python3 with torch (tried python3, /usr/bin/python3): " +
      "pip install torch==2.13.0, or pass --torch none",
  );
}

/** The flags of a bench with a PyTorch peer: which Python, and at which thread counts. */
export const PEER_FLAGS = [
  {
    name: "python",
    type: "string",
    default: "",
    help: "Python with torch (default: python3 on PATH if it has torch, else /usr/bin/python3).",
  },
  {
    name: "torch-threads",
    type: "string",
    default: "1,2",
    valueName: "list",
    validate: listOf((t) => /^[1-9]\d*$/.test(t), "expected integers >= 1, comma-separated"),
    help: "PyTorch threads, comma-separated: one peer row per count.",
  },
] as const;

/** One PyTorch peer run of a bench: its Python, thread count and the label of its rows. */
export interface PeerRun {
  /** The Python with torch. */
  python: string;
  /** torch's thread count for this run. */
  threads: number;
  /** The rows' backend label: "pytorch 2.13.0+cpu, 2 threads". */
  backend: string;
}

/** The peer runs `--python` and `--torch-threads` ask for, one per thread count. */
export async function peerRuns(
  flags: { python: string; torchThreads: string },
): Promise<PeerRun[]> {
  const python = await peerPython(flags.python);
  const version = await torchVersion(python);
  return flags.torchThreads.split(",").map(Number).map((threads) => ({
    python,
    threads,
    backend: `pytorch ${version}, ${threads} thread${threads === 1 ? "" : "s"}`,
  }));
}

/**
 * Runs a PyTorch peer script and returns the JSON objects it printed, one
 * per line.
 *
 * @throws {Error} with the last line of its stderr when it fails.
 */
export async function torchRows(
  python: string,
  args: string[],
  // deno-lint-ignore no-explicit-any
): Promise<Record<string, any>[]> {
  const out = await new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").pop());
  }
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => JSON.parse(line));
}

export interface TorchRow {
  model: string;
  tokensPerSec: number;
  trainPerplexity: number;
  anchor: string;
  device: string;
}

export async function runTorch(opts: BenchOptions, cells: CellKind[]): Promise<TorchRow[]> {
  if (!opts.torch) return [];
  if (!existsSync(opts.torch)) {
    console.error(`bench: skipping PyTorch: no anchor script at "${opts.torch}"`);
    return [];
  }
  const python = await findTorchPython();
  if (!python) {
    console.error(
      "bench: skipping PyTorch: no python3 with torch (tried python3, /usr/bin/python3)",
    );
    return [];
  }
  const models = cells.flatMap((c) => [`${c}-scratch`, c]).join(",");
  let corpus = opts.corpus;
  if (opts.torchChars > 0) { // the first characters only: (1 + epochs) epochs in about a minute per model
    corpus = await Deno.makeTempFile({ prefix: "bench-corpus-", suffix: ".txt" });
    await Deno.writeTextFile(
      corpus,
      (await Deno.readTextFile(opts.corpus)).slice(0, opts.torchChars),
    );
  }
  const rows: TorchRow[] = [];
  for (const threads of opts.torchThreads) {
    progress(
      opts,
      `pytorch: ${models} on ${threads} thread(s), ${opts.torchEpochs} timed epoch(s) each...`,
    );
    const args = [opts.torch, corpus, "cpu", String(opts.torchEpochs), models, String(threads)];
    try {
      rows.push(...await torchRows(python, args) as TorchRow[]);
    } catch (error) {
      console.error(`bench: PyTorch failed: ${(error as Error).message}`);
    }
  }
  if (corpus !== opts.corpus) await Deno.remove(corpus);
  return rows;
}
