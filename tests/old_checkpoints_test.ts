/**
 * Checkpoints written before the registry, typed-config and API changes still
 * load and give the numbers their own version printed
 * (data/fixtures/old_checkpoints/README.md says how they were made).
 */
import { ok, strictEqual } from "node:assert";
import { script } from "./_script.ts";

const FIXTURES = "data/fixtures/old_checkpoints";

/** Equal to float32 rounding of a sum over ~19k tokens. */
function close(actual: unknown, expected: number, tolerance: number): void {
  ok(
    typeof actual === "number" && Math.abs(actual - expected) <= tolerance * Math.abs(expected),
    `got ${actual}, expected ${expected} (relative tolerance ${tolerance})`,
  );
}

Deno.test("an old language-model checkpoint evaluates to the perplexity it had", async () => {
  const corpus = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    const text = await Deno.readFile("data/timemachine.txt");
    await Deno.writeFile(corpus, text.subarray(0, 20000));
    const run = await script("evaluate", [
      "--checkpoint",
      `${FIXTURES}/lm`,
      "--corpus",
      corpus,
      "--backend",
      "cpu",
      "--json",
    ]);
    strictEqual(run.code, 0, run.stderr);
    const row = run.rows.find((r) => r.event === "evaluate")!;
    strictEqual(row.tokens, 18764);
    close(row.perplexity, 13.175134515662927, 1e-6);
  } finally {
    await Deno.remove(corpus);
  }
});

Deno.test("an old classifier checkpoint predicts the probabilities it did", async () => {
  const run = await script("classify", [
    "--checkpoint",
    `${FIXTURES}/classifier`,
    "--predict",
    "Adamou",
    "--backend",
    "cpu",
    "--json",
  ]);
  strictEqual(run.code, 0, run.stderr);
  const top = run.rows.find((r) => r.event === "predict")!.top as {
    label: string;
    probability: number;
  }[];
  const expected: [string, number][] = [
    ["Czech", 0.4747024178504944],
    ["Japanese", 0.34440311789512634],
    ["Greek", 0.18089446425437927],
  ];
  strictEqual(top.length, 3);
  expected.forEach(([label, probability], i) => {
    strictEqual(top[i].label, label);
    close(top[i].probability, probability, 1e-6);
  });
});
