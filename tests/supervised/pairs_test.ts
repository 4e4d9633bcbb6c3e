import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import {
  buildPairVocabs,
  loadPairs,
  parsePairs,
  preprocessPairText,
  tokenizePairs,
} from "../../lib/supervised/pairs.ts";

Deno.test("preprocessPairText does d2l's fra-eng preprocessing", () => {
  // Non-breaking spaces (U+202F, U+00A0) become spaces; lower case; a space before , . ! ?
  strictEqual(preprocessPairText("Va\u202f!"), "va !");
  strictEqual(preprocessPairText("Qui\xa0?"), "qui ?");
  strictEqual(preprocessPairText("I lost."), "i lost .");
  strictEqual(preprocessPairText("He's calm, OK?!"), "he's calm , ok ? !");
  strictEqual(preprocessPairText("Go ."), "go ."); // already spaced: unchanged
  strictEqual(preprocessPairText(".Hi"), ".hi"); // the first character gets no space
});

Deno.test("parsePairs reads source<TAB>target[<TAB>anything] and skips blank lines", () => {
  const pairs = parsePairs("Go.\tVa !\tCC-BY 2.0 #1\n\nI'm home.\tJe suis chez moi.\r\n");
  deepStrictEqual(pairs, [
    { source: "go .", target: "va !" },
    { source: "i'm home .", target: "je suis chez moi ." },
  ]);
  deepStrictEqual(parsePairs("Ab\tC\nd\te", { normalize: "raw" })[0], {
    source: "Ab",
    target: "C",
  });
});

Deno.test("parsePairs names the line of a missing tab or an empty side, and refuses one pair", () => {
  throws(
    () => parsePairs("a\tb\nno tab here\n"),
    (e: Error) => e instanceof UsageError && /line 2 has no tab/.test(e.message),
  );
  throws(
    () => parsePairs("a\tb\n\tb\n"),
    (e: Error) => e instanceof UsageError && /line 2 has an empty source/.test(e.message),
  );
  throws(
    () => parsePairs("a\tb\nc\t \n"),
    (e: Error) => e instanceof UsageError && /line 2 has an empty target/.test(e.message),
  );
  throws(
    () => parsePairs("a\tb\n"),
    (e: Error) => e instanceof UsageError && /it has 1 pair, expected at least 2/.test(e.message),
  );
});

Deno.test("buildPairVocabs: <unk> <pad> <bos> <eos> first, minFreq 2 by default, per side", () => {
  const pairs = tokenizePairs(parsePairs("go .\tva !\ngo !\tva .\nhi .\tsalut .\n"), "word");
  const { source, target } = buildPairVocabs(pairs);
  deepStrictEqual(source.tokens, ["<unk>", "<pad>", "<bos>", "<eos>", "go", "."]);
  deepStrictEqual(target.tokens, ["<unk>", "<pad>", "<bos>", "<eos>", "va", "."]);
  strictEqual(buildPairVocabs(pairs, { minFreq: 1 }).source.size, 8);
  // d2l counts after cutting to num_steps (with <eos>): maxLength 2 keeps one token per side.
  deepStrictEqual(buildPairVocabs(pairs, { maxLength: 2 }).source.tokens.slice(4), ["go"]);
  const chars = buildPairVocabs(tokenizePairs([{ source: "ab", target: "ba" }], "char"), {
    token: "char",
    minFreq: 1,
  });
  deepStrictEqual(chars.source.tokens.slice(4), ["a", "b"]);
  strictEqual(chars.source.joiner, "");
});

Deno.test("loadPairs reads the fra-eng file and reports a missing file as a usage error", async () => {
  const pairs = await loadPairs("data/fra-eng/fra.txt");
  strictEqual(pairs.length, 5000);
  deepStrictEqual(pairs[0], { source: "go .", target: "va !" });
  await rejects(() => loadPairs("data/no-such-file.txt"), UsageError);
});
