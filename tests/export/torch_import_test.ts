/**
 * Models trained in PyTorch 2.13 and saved with safetensors (fixtures made
 * by `python3 scripts/torch_export.py fixtures data/fixtures/export`) load
 * into ours and give PyTorch's outputs: an LSTM classifier (2 layers,
 * bidirectional, packed padded batch) and an nn.GRU language model.
 */
import { tf } from "../../lib/tf.ts";
import { classifierConfig, SequenceClassifier } from "../../lib/classify/model.ts";
import { LanguageModel, modelConfig } from "../../lib/lm/model.ts";
import { labelledBatch } from "../../lib/supervised/labelled.ts";
import { decodeSafetensors } from "../../lib/export/safetensors.ts";
import { loadTorchStateDictInto } from "../../lib/export/state_dict.ts";
import { assertClose } from "./_ort.ts";

await tf.setBackend("cpu");

const DIR = new URL("../../data/fixtures/export/", import.meta.url);

async function fixture(name: string) {
  const file = decodeSafetensors(await Deno.readFile(new URL(`${name}.safetensors`, DIR)), name);
  const expected = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, DIR)));
  return { ...file, config: JSON.parse(file.metadata.config), expected };
}

Deno.test("a PyTorch-trained LSTM classifier in safetensors loads and gives PyTorch's probabilities to 1e-5", async () => {
  const { tensors, config, expected } = await fixture("classifier_lstm");
  const model = new SequenceClassifier(classifierConfig(config));
  loadTorchStateDictInto(model, tensors);
  const lengths: number[] = expected.lengths;
  const sequences = (expected.ids as number[][]).map((row, b) =>
    Int32Array.from(row.slice(0, lengths[b]))
  );
  const probs = model.probabilities(labelledBatch(sequences, lengths.map(() => 0), config.padId));
  assertClose(probs.dataSync(), expected.probabilities.flat(), 1e-5, "probabilities");
  probs.dispose();
  model.dispose();
});

Deno.test("a PyTorch-trained nn.GRU language model in safetensors loads and gives PyTorch's logits and h_n to 1e-5", async () => {
  const { tensors, config, expected } = await fixture("lm_gru");
  const model = new LanguageModel(modelConfig(config));
  loadTorchStateDictInto(model, tensors);
  const ids: number[][] = expected.ids;
  const [B, T] = [ids.length, ids[0].length];
  const { logits, state } = model.forward({
    x: Int32Array.from(ids.flat()),
    batchSize: B,
    numSteps: T,
  });
  // Ours are time-major [T*B, V]; PyTorch's batch-first [B, T, V].
  const batchFirst = tf.tidy(() =>
    tf.transpose(tf.reshape(logits, [T, B, -1]), [1, 0, 2]).dataSync()
  );
  assertClose(batchFirst, expected.logits.flat(2), 1e-5, "logits");
  assertClose(
    tf.tidy(() => tf.stack(state.map((s) => s.h)).dataSync()),
    expected.h_n.flat(2),
    1e-5,
    "h_n",
  );
  tf.dispose([logits, ...state.map((s) => s.h)]);
  model.dispose();
});
