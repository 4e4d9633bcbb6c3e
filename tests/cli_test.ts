import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import {
  defineFlags,
  editDistance,
  emitJson,
  helpText,
  inRange,
  nonNegative,
  parseFlags,
  positive,
  positiveInteger,
  Progress,
  runCli,
} from "../scripts/_cli.ts";
import { UsageError } from "../lib/errors.ts";

const FLAGS = defineFlags([
  {
    name: "data",
    type: "string",
    default: "data/timemachine.txt",
    valueName: "path",
    help: "The corpus, a UTF-8 text file.",
  },
  {
    name: "cell",
    type: "choice",
    choices: ["rnn", "gru", "lstm"],
    default: "lstm",
    help: "Recurrent cell kind.",
  },
  {
    name: "hidden-size",
    type: "integer",
    default: 256,
    validate: positiveInteger,
    help: "Hidden units per layer.",
  },
  {
    name: "epochs",
    short: "e",
    type: "integer",
    default: 10,
    validate: positiveInteger,
    help: "Passes over the training split.",
  },
  {
    name: "lr",
    type: "number",
    default: 1,
    validate: positive,
    help: "Learning rate of plain SGD with gradient clipping, a help line long enough to wrap.",
  },
  {
    name: "dropout",
    type: "number",
    default: 0,
    validate: inRange(0, 1, { hiOpen: true }),
    help: "Dropout between layers.",
  },
  { name: "seed", type: "integer", help: "Random seed; none means a random one." },
  { name: "json", type: "boolean", help: "Print one JSON object per line on stdout." },
  { name: "progress", type: "boolean", default: true, help: "Show a progress bar." },
]);

const DEFAULTS = {
  help: false,
  data: "data/timemachine.txt",
  cell: "lstm",
  hiddenSize: 256,
  epochs: 10,
  lr: 1,
  dropout: 0,
  seed: undefined,
  json: false,
  progress: true,
};

/** Asserts that parsing `argv` throws a UsageError with exactly `message`. */
function assertUsage(argv: string[], message: string): void {
  throws(() => parseFlags(FLAGS, argv), (error: Error) => {
    ok(error instanceof UsageError, `UsageError, got ${error.name}`);
    strictEqual(error.message, message);
    return true;
  });
}

Deno.test("parseFlags() fills every default when no flag is given", () => {
  deepStrictEqual(parseFlags(FLAGS, []), { values: DEFAULTS, positionals: [] });
});

Deno.test("parseFlags() reads spaced, inline, short and negated forms", () => {
  const { values } = parseFlags(FLAGS, [
    "--cell",
    "gru",
    "--hidden-size=64",
    "-e",
    "3",
    "--lr",
    "0.5",
    "--dropout=0.25",
    "--seed",
    "-7",
    "--json",
    "--no-progress",
    "--data",
    "a b.txt",
  ]);
  deepStrictEqual(values, {
    ...DEFAULTS,
    cell: "gru",
    hiddenSize: 64,
    epochs: 3,
    lr: 0.5,
    dropout: 0.25,
    seed: -7,
    json: true,
    progress: false,
    data: "a b.txt",
  });
});

Deno.test("parseFlags() sets help for -h and --help", () => {
  strictEqual(parseFlags(FLAGS, ["-h"]).values.help, true);
  strictEqual(parseFlags(FLAGS, ["--lr", "2", "--help"]).values.help, true);
});

Deno.test("parseFlags() suggests the nearest flag for an unknown one", () => {
  assertUsage(["--hiden-size", "64"], 'Unknown flag "--hiden-size": did you mean "--hidden-size"?');
  assertUsage(["--hidden", "64"], 'Unknown flag "--hidden": did you mean "--hidden-size"?');
  assertUsage(["--jsno"], 'Unknown flag "--jsno": did you mean "--json"?');
  assertUsage(["--temperature", "2"], 'Unknown flag "--temperature": see --help for the flags');
  assertUsage(["-x"], 'Unknown flag "-x": see --help for the flags');
  assertUsage(["--no-lr"], 'Unknown flag "--no-lr": --lr takes a value, so it has no --no- form');
});

Deno.test("parseFlags() names the flag, the quoted value and what is allowed", () => {
  assertUsage(["--lr", "abc"], 'Invalid value "abc" for --lr: expected a number');
  assertUsage(["--lr", ""], 'Invalid value "" for --lr: expected a number');
  assertUsage(["--lr", "Infinity"], 'Invalid value "Infinity" for --lr: expected a number');
  assertUsage(["--lr", "0"], 'Invalid value "0" for --lr: expected a number > 0');
  assertUsage(["--epochs", "2.5"], 'Invalid value "2.5" for --epochs: expected an integer');
  assertUsage(["-e", "0"], 'Invalid value "0" for --epochs: expected an integer >= 1');
  assertUsage(["--dropout=1"], 'Invalid value "1" for --dropout: expected a number in [0, 1)');
  assertUsage(
    ["--cell", "lstn"],
    'Invalid value "lstn" for --cell: expected one of rnn, gru, lstm (did you mean "lstm"?)',
  );
  assertUsage(
    ["--cell", "transformer"],
    'Invalid value "transformer" for --cell: ' +
      "expected one of rnn, gru, lstm",
  );
});

Deno.test("parseFlags() rejects missing values, repeated flags, stray arguments", () => {
  assertUsage(["--lr"], "Missing value for --lr: expected a number");
  assertUsage(["--lr", "--json"], "Missing value for --lr: expected a number");
  assertUsage(
    ["--json=yes"],
    'Invalid value "yes" for --json: the flag takes no value (use --json or --no-json)',
  );
  assertUsage(["--lr", "1", "--lr=2"], 'Flag --lr is given twice: "1", then "2"');
  assertUsage(["--json", "--no-json"], 'Flag --json is given twice: "--json", then "--no-json"');
  assertUsage(["--help=yes"], 'Invalid value "yes" for --help: the flag takes no value');
  assertUsage(["extra"], 'Unexpected argument "extra": this script takes flags only');
});

Deno.test("parseFlags() returns positionals when allowed, after -- too", () => {
  const { values, positionals } = parseFlags(FLAGS, ["a.txt", "--json", "--", "--b"], {
    allowPositionals: true,
  });
  strictEqual(values.json, true);
  deepStrictEqual(positionals, ["a.txt", "--b"]);
});

Deno.test("defineFlags() rejects a broken table with a plain Error", () => {
  const broken = [
    [{ name: "Bad_Name", type: "string", help: "" }],
    [{ name: "no-cache", type: "boolean", help: "" }],
    [{ name: "help", type: "boolean", help: "" }],
    [{ name: "a", type: "string", help: "" }, { name: "a", type: "string", help: "" }],
    [{ name: "k", type: "choice", help: "" }],
    [{ name: "k", type: "string", choices: ["x"], help: "" }],
    [{ name: "k", type: "integer", default: 1.5, help: "" }],
    [{ name: "k", type: "number", default: -1, validate: positive, help: "" }],
    [{ name: "k", type: "choice", choices: ["x"], default: "y", help: "" }],
    [{ name: "k", type: "string", short: "h", help: "" }],
  ] as const;
  for (const table of broken) {
    throws(() => defineFlags(table), (error: Error) => !(error instanceof UsageError));
  }
});

Deno.test("validators accept their range and describe it otherwise", () => {
  strictEqual(positive(1e-9), undefined);
  strictEqual(nonNegative(0), undefined);
  strictEqual(nonNegative(-1), "expected a number >= 0");
  strictEqual(inRange(0, 1)(1), undefined);
  strictEqual(inRange(0, 1, { loOpen: true })(0), "expected a number in (0, 1]");
  strictEqual(inRange(0, 2, { loOpen: true, hiOpen: true })(2), "expected a number in (0, 2)");
});

Deno.test("editDistance() counts insertions, deletions, substitutions and swaps", () => {
  strictEqual(editDistance("", "abc"), 3);
  strictEqual(editDistance("lstm", "lstm"), 0);
  strictEqual(editDistance("jsno", "json"), 1);
  strictEqual(editDistance("kitten", "sitting"), 3);
});

Deno.test("helpText() prints the usage, summary and aligned flags", () => {
  const expected = `Usage: deno task train [flags]

Train a character language model on a text file.

Flags:
      --data <path>          The corpus, a UTF-8 text file. (default:
                             data/timemachine.txt)
      --cell <rnn|gru|lstm>  Recurrent cell kind. (default: lstm)
      --hidden-size <int>    Hidden units per layer. (default: 256)
  -e, --epochs <int>         Passes over the training split. (default: 10)
      --lr <number>          Learning rate of plain SGD with gradient clipping,
                             a help line long enough to wrap. (default: 1)
      --dropout <number>     Dropout between layers. (default: 0)
      --seed <int>           Random seed; none means a random one.
      --json                 Print one JSON object per line on stdout.
      --[no-]progress        Show a progress bar. (default: true)
  -h, --help                 Show this help and exit.
`;
  strictEqual(
    helpText("deno task train", "Train a character language model on a text file.", FLAGS),
    expected,
  );
});

Deno.test("helpText() puts a long flag's help on its own line", () => {
  const table = defineFlags([
    { name: "a-very-long-flag-name-indeed", type: "string", valueName: "path", help: "Long." },
    { name: "n", type: "integer", help: "Short." },
  ]);
  strictEqual(
    helpText("x", "S.", table, { positionals: "[file...]" }),
    `Usage: x [flags] [file...]

S.

Flags:
      --a-very-long-flag-name-indeed <path>
                 Long.
      --n <int>  Short.
  -h, --help     Show this help and exit.
`,
  );
});

function collect(): { lines: string[]; io: { writeErr(t: string): void; debug: boolean } } {
  const lines: string[] = [];
  return { lines, io: { writeErr: (text: string) => void lines.push(text), debug: false } };
}

Deno.test("runCli() maps success, a UsageError and a failure to 0, 2 and 1", async () => {
  const ok0 = collect();
  strictEqual(await runCli(() => Promise.resolve(), [], ok0.io), 0);
  strictEqual(await runCli(() => Promise.resolve(3), [], ok0.io), 3);
  deepStrictEqual(ok0.lines, []);

  const usage = collect();
  const code = await runCli(
    (args) => {
      parseFlags(FLAGS, args);
      return Promise.resolve(0);
    },
    ["--lr", "x"],
    usage.io,
  );
  strictEqual(code, 2);
  deepStrictEqual(usage.lines, ['error: Invalid value "x" for --lr: expected a number\n']);

  const failure = collect();
  strictEqual(
    await runCli(() => Promise.reject(new Error("Out of memory\n  at deep.ts:1")), [], failure.io),
    1,
  );
  deepStrictEqual(failure.lines, ["error: Out of memory\n"]);
});

Deno.test("runCli() prints the stack and its causes in debug mode only", async () => {
  const { lines, io } = collect();
  io.debug = true;
  const error = new Error("Outer", { cause: new Error("Inner") });
  strictEqual(await runCli(() => Promise.reject(error), [], io), 1);
  strictEqual(lines[0], "error: Outer\n");
  ok(lines[1].includes("at ") && lines[1].includes("caused by: Error: Inner"));
});

/** Runs a tiny script that uses runMain, returning its exit code and stderr. */
async function runScript(body: string, env: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir();
  try {
    const cli = new URL("../scripts/_cli.ts", import.meta.url).href;
    const errors = new URL("../lib/errors.ts", import.meta.url).href;
    const path = `${dir}/script.ts`;
    await Deno.writeTextFile(
      path,
      `import { runMain, emitJson, info } from "${cli}";\n` +
        `import { UsageError } from "${errors}";\n` +
        `async function main(args: string[]): Promise<number | void> {\n${body}\n}\n` +
        `if (import.meta.main) await runMain(main);\n`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-env", path, "--flag"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runMain() exits 2 with one line and no stack for a usage error", async () => {
  const result = await runScript(`throw new UsageError('Bad flag "' + args[0] + '"');`);
  strictEqual(result.code, 2);
  strictEqual(result.stderr, 'error: Bad flag "--flag"\n');
  strictEqual(result.stdout, "");
});

Deno.test("runMain() exits 1 for a failure, with the stack only under RNN_DEBUG=1", async () => {
  const body = `await Promise.resolve(); throw new Error("Disk on fire");`;
  const plain = await runScript(body);
  strictEqual(plain.code, 1);
  strictEqual(plain.stderr, "error: Disk on fire\n");
  const debug = await runScript(body, { RNN_DEBUG: "1" });
  strictEqual(debug.code, 1);
  ok(debug.stderr.startsWith("error: Disk on fire\nError: Disk on fire\n    at "), debug.stderr);
});

Deno.test("runMain() exits with main's code, JSON on stdout and text on stderr", async () => {
  const result = await runScript(`emitJson({ event: "x", n: 1 }); info("hello"); return 0;`);
  strictEqual(result.code, 0);
  strictEqual(result.stdout, '{"event":"x","n":1}\n');
  strictEqual(result.stderr, "hello\n");
});

Deno.test("emitJson() writes one whole line through short writes", () => {
  const chunks: Uint8Array[] = [];
  const out = {
    writeSync(bytes: Uint8Array) {
      const n = Math.min(3, bytes.length);
      chunks.push(bytes.slice(0, n));
      return n;
    },
  };
  emitJson({ event: "sample", text: "héllo\n" }, out);
  const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  strictEqual(text, '{"event":"sample","text":"héllo\\n"}\n');
});

Deno.test("Progress draws nothing when silent or not on a terminal", () => {
  const written: string[] = [];
  const stream = { isTTY: false, write: (s: string) => written.push(s) > 0 };
  for (const options of [{ silent: true, stream: { ...stream, isTTY: true } }, { stream }]) {
    const bar = new Progress(10, options);
    strictEqual(bar.active, false);
    bar.update(5, "ppl 9.9");
    bar.increment();
    bar.stop();
  }
  deepStrictEqual(written, []);
});

Deno.test("Progress draws a bar with its label and text on a terminal", () => {
  const written: string[] = [];
  const stream = { isTTY: true, columns: 100, write: (s: string) => written.push(s) > 0 };
  {
    using bar = new Progress(4, { label: "epoch {1}", stream });
    strictEqual(bar.active, true);
    bar.update(2, "ppl 12.5");
  }
  const text = written.join("");
  ok(text.includes("epoch 1"), text);
  ok(text.includes("0/4"), text);
});

Deno.test("helpText() shows <dir> and <path> for path flags, never doubled brackets", () => {
  const table = defineFlags([
    { name: "resume", type: "string", valueName: "<dir>", help: "A run." },
    { name: "out", type: "string", help: "Run directory." },
    { name: "temp-dir", type: "string", help: "Scratch." },
    { name: "corpus", type: "string", help: "A text file." },
    { name: "weights-file", type: "string", help: "Weights." },
    { name: "prefix", type: "string", help: "Text." },
  ]);
  const help = helpText("x", "S.", table);
  for (
    const shown of [
      "--resume <dir>",
      "--out <dir>",
      "--temp-dir <dir>",
      "--corpus <path>",
      "--weights-file <path>",
      "--prefix <text>",
    ]
  ) ok(help.includes(shown), `${shown} in\n${help}`);
  ok(!help.includes("<<"), help);
});
