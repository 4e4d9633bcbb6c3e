/**
 * `deno task bench [train|corpus|classify|seq2seq] [flags]`: the benchmarks. `train` (the
 * default) trains the d2l character model with this project, the tfjs-layers
 * peer and PyTorch side by side; `corpus` streams generated text through the
 * corpus loader and reports tokens/s and peak RSS; `classify` and `seq2seq` time
 * those models beside their PyTorch peers.
 *
 * @module
 */
import { runMain } from "./_cli.ts";
import { UsageError } from "../lib/errors.ts";
import { benchTrain } from "./bench_train.ts";
import { benchCorpus } from "./bench_corpus.ts";
import { benchClassify } from "./bench_classify.ts";
import { benchSeq2seq } from "./bench_seq2seq.ts";

const BENCHES: Record<string, (args: string[]) => Promise<void>> = {
  train: benchTrain,
  corpus: benchCorpus,
  classify: benchClassify,
  seq2seq: benchSeq2seq,
};

/** Runs `deno task bench` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || first.startsWith("-")) {
    await benchTrain(args);
    return 0;
  }
  const bench = BENCHES[first];
  if (!bench) {
    throw new UsageError(
      `Cannot run bench "${first}": expected one of ${Object.keys(BENCHES).join(", ")}`,
    );
  }
  await bench(rest);
  return 0;
}

if (import.meta.main) await runMain(main);
