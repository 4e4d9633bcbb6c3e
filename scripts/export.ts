/**
 * `deno task export`: a trained checkpoint as ONNX (onnxruntime in a browser,
 * Node, Deno or Python) or safetensors (PyTorch `load_state_dict`).
 *
 * @module
 */
import { defineFlags, emitJson, flagsOrHelp, info, runMain } from "./_cli.ts";
import { CHECKPOINT_FLAG, JSON_FLAG, WHICH_FLAG } from "./_task_flags.ts";
import { useBackend } from "../lib/tf.ts";
import { UsageError } from "../lib/errors.ts";
import { EXPORT_FORMATS, exportCheckpoint } from "../lib/export/export.ts";

/** The flags of `deno task export`. */
export const EXPORT_FLAGS = defineFlags(
  [
    CHECKPOINT_FLAG,
    WHICH_FLAG,
    {
      name: "format",
      type: "choice",
      choices: EXPORT_FORMATS,
      help:
        "Required: onnx (every kind; seq2seq writes encoder.onnx and decoder.onnx into --out) " +
        "or safetensors (lm and classifier, PyTorch state_dict names).",
    },
    {
      name: "out",
      type: "string",
      valueName: "path",
      help: "Required: the file to write (a directory for a seq2seq model in ONNX).",
    },
    { name: "overwrite", type: "boolean", help: "Replace --out when it exists." },
    JSON_FLAG,
  ] as const,
);

/** Runs `deno task export` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    EXPORT_FLAGS,
    args,
    "deno task export",
    "Export a checkpoint to ONNX or safetensors.",
  );
  if (!flags) return 0;
  for (const flag of ["format", "out"] as const) {
    if (flags[flag] === undefined) {
      throw new UsageError(
        `Cannot export: --${flag} is missing, expected --${flag} <${
          flag === "out" ? "path" : EXPORT_FORMATS.join("|")
        }>`,
      );
    }
  }
  // The weights are only read: the cpu backend starts at once and loads any checkpoint.
  await useBackend("cpu");
  const result = await exportCheckpoint({
    checkpoint: flags.checkpoint,
    which: flags.which,
    format: flags.format!,
    out: flags.out!,
    overwrite: flags.overwrite,
  });
  if (flags.json) emitJson({ event: "export", ...result });
  else {
    console.log(result.files.join("\n"));
    info(
      `${result.kind} from ${result.checkpoint} as ${result.format}: ${result.bytes} bytes in ` +
        `${result.seconds.toFixed(2)} s`,
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main);
