/**
 * Tiny data for the issue 21 CLI tests: distinct strings per label, and a
 * file of reversal pairs, written into a test's temporary folder.
 */

/** `n` distinct strings over two letters (8, 9, ... in binary, 0 -> x, 1 -> y). */
export function binaryWords(n: number, x: string, y: string): string[] {
  return Array.from(
    { length: n },
    (_, i) => (i + 8).toString(2).replaceAll("0", x).replaceAll("1", y),
  );
}

/** Writes `dir/pairs.txt`: 16 lines `abc<TAB>cba` (8 pairs, twice); returns its path. */
export async function reversalPairs(dir: string): Promise<string> {
  const lines = ["ab", "ba", "abc", "cab", "bca", "acb", "ca", "bb"].map((s) =>
    `${s}\t${[...s].reverse().join("")}`
  );
  await Deno.writeTextFile(`${dir}/pairs.txt`, [...lines, ...lines].join("\n") + "\n");
  return `${dir}/pairs.txt`;
}
