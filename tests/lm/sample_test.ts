import { ok, strictEqual, throws } from "node:assert";
import { checkDecodeOptions, chooseToken } from "../../lib/decoding/token_choice.ts";
import { Rng } from "../../lib/rng.ts";
import { UsageError } from "../../lib/errors.ts";

const LOGITS = Float32Array.of(1.0, 3.0, -2.0, 2.5, 0.5);

function frequencies(options: Parameters<typeof chooseToken>[1], draws = 20000): number[] {
  const rng = new Rng(11);
  const counts = new Array(LOGITS.length).fill(0);
  for (let i = 0; i < draws; i++) counts[chooseToken(LOGITS, options, rng)] += 1;
  return counts.map((c) => c / draws);
}

function softmax(values: number[], temperature = 1): number[] {
  const top = Math.max(...values);
  const e = values.map((v) => Math.exp((v - top) / temperature));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

Deno.test("chooseToken() greedy takes the largest logit", () => {
  strictEqual(chooseToken(LOGITS, { greedy: true }, new Rng(0)), 1);
  strictEqual(chooseToken(LOGITS, { greedy: true, banned: [1] }, new Rng(0)), 3);
});

Deno.test("chooseToken() samples the softmax at temperature 1 and 0.5", () => {
  for (const temperature of [1, 0.5]) {
    const expected = softmax([...LOGITS], temperature);
    const seen = frequencies({ temperature });
    for (let i = 0; i < LOGITS.length; i++) {
      ok(Math.abs(seen[i] - expected[i]) < 0.015, `id ${i}: ${seen[i]} vs ${expected[i]}`);
    }
  }
});

Deno.test("chooseToken() top-k keeps only the k most likely ids, renormalised", () => {
  const seen = frequencies({ topK: 2 });
  const expected = softmax([3.0, 2.5]);
  ok(Math.abs(seen[1] - expected[0]) < 0.015);
  ok(Math.abs(seen[3] - expected[1]) < 0.015);
  strictEqual(seen[0] + seen[2] + seen[4], 0);
});

Deno.test("chooseToken() top-p keeps the smallest nucleus reaching p", () => {
  const p = softmax([...LOGITS]); // ids by probability: 1, 3, 0, 4, 2
  const nucleus = p[1] + p[3]; // about 0.86
  const seen = frequencies({ topP: nucleus - 0.01 });
  strictEqual(seen[0] + seen[2] + seen[4], 0, "only ids 1 and 3 are drawn");
  const seenWider = frequencies({ topP: nucleus + 0.01 });
  ok(seenWider[0] > 0.05, "the third id joins once p passes the first two");
  strictEqual(seenWider[2] + seenWider[4], 0);
});

Deno.test("chooseToken() is reproducible with a seed", () => {
  const a = new Rng(5), b = new Rng(5);
  for (let i = 0; i < 50; i++) strictEqual(chooseToken(LOGITS, {}, a), chooseToken(LOGITS, {}, b));
});

Deno.test("checkDecodeOptions() rejects out-of-range values with a UsageError", () => {
  for (
    const bad of [{ temperature: 0 }, { temperature: -1 }, { topP: 0 }, { topP: 1.01 }, {
      topK: -1,
    }, { topK: 1.5 }]
  ) {
    throws(() => checkDecodeOptions(bad), (e: Error) => e instanceof UsageError);
  }
  checkDecodeOptions({ temperature: 0.1, topP: 1, topK: 3 });
});
