import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { corpusBleu, d2lBleu, exactMatch } from "../../lib/seq2seq/bleu.ts";

const close = (a: number, b: number) => ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("d2lBleu matches d2l's bleu() on hand-computed cases", () => {
  // Values by hand, and checked with d2l's Python function (k = 2).
  strictEqual(d2lBleu("va !", "va !", 2), 1);
  strictEqual(d2lBleu("je suis chez moi .", "je suis chez moi .", 2), 1);
  // exp(1 - 4/3) * (3/3)^(1/2) * (1/2)^(1/4)
  close(d2lBleu("il est .", "il est calme .", 2), Math.exp(-1 / 3) * Math.pow(0.5, 0.25));
  close(d2lBleu("il est .", "il est calme .", 2), 0.6025286104785453);
  // no bigram in common: 0, as d2l's "il court ." for "il est calme ."
  strictEqual(d2lBleu("il court .", "il est calme .", 2), 0);
  strictEqual(d2lBleu("nous <unk> .", "il est calme .", 2), 0);
  // longer than the reference: no brevity penalty; p1 = 5/6, p2 = 4/5
  close(d2lBleu("je suis chez moi moi .", "je suis chez moi .", 2), 0.8633400213704505);
  close(d2lBleu("je suis chez moi moi .", "je suis chez moi .", 4), 0.7391507907414361);
  // an empty prediction is one empty token in d2l
  strictEqual(d2lBleu("", "va !", 2), 0);
});

Deno.test("corpusBleu sums clipped counts over sentences, then applies the brevity penalty", () => {
  const hyp = [["the", "the", "cat"], ["a", "dog", "runs", "fast"]];
  const ref = [["the", "cat", "sat"], ["a", "dog", "runs", "fast"]];
  const r = corpusBleu(hyp, ref);
  // 1-grams: (the clipped to 1) + cat = 2 of 3, and 4 of 4 -> 6/7
  // 2-grams: "the cat" 1 of 2, 3 of 3 -> 4/5; 3-grams: 0 of 1, 2 of 2 -> 2/3; 4-grams: 0 + 1 of 1 -> 1/1
  deepStrictEqual(
    r.precisions.map((p) => +p.toFixed(12)),
    [6 / 7, 4 / 5, 2 / 3, 1].map((p) => +p.toFixed(12)),
  );
  strictEqual(r.brevityPenalty, 1); // c = r = 7
  close(r.bleu, Math.pow((6 / 7) * (4 / 5) * (2 / 3) * 1, 1 / 4));
  // shorter than the reference: BP = exp(1 - 7/4)
  const short = corpusBleu([["a", "dog", "runs", "fast"]], [[
    "a",
    "dog",
    "runs",
    "fast",
    "a",
    "b",
    "c",
  ]]);
  close(short.brevityPenalty, Math.exp(1 - 7 / 4));
  close(short.bleu, Math.exp(1 - 7 / 4));
  // a zero precision gives 0, without smoothing
  strictEqual(corpusBleu([["x", "y", "z", "w"]], [["x", "y", "z", "q"]]).bleu, 0);
});

Deno.test("exactMatch counts identical token lists", () => {
  strictEqual(exactMatch([["a", "b"], ["c"], []], [["a", "b"], ["c", "d"], []]), 2 / 3);
  strictEqual(exactMatch([], []), 0);
});
