/**
 * The scripts' command line: one declarative table of flags per script, parsed
 * by `parseArgs` from `node:util` (no framework, so a move to cliffy later
 * changes this file only), help text, exit codes, progress and output.
 *
 * A script reads like this:
 *
 * ```ts ignore
 * const FLAGS = defineFlags([
 *   { name: "epochs", type: "integer", default: 10, validate: positiveInteger, help: "Passes over the corpus." },
 *   { name: "cell", type: "choice", choices: ["rnn", "gru", "lstm"], default: "lstm", help: "Cell kind." },
 *   { name: "json", type: "boolean", help: "Print one JSON object per line on stdout." },
 * ]);
 * export async function main(args: string[]): Promise<number> {
 *   const { values } = parseFlags(FLAGS, args);
 *   if (values.help) return info(helpText("deno task train", "Train a model.", FLAGS)), 0;
 *   // values.epochs: number, values.cell: "rnn" | "gru" | "lstm", values.json: boolean
 * }
 * if (import.meta.main) await runMain(main);
 * ```
 *
 * Exit codes: 0 done, 1 failure at run time, 2 usage error ({@linkcode UsageError}).
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
// @ts-types="npm:@types/cli-progress@3.11.6"
import cliProgress from "npm:cli-progress@3.12.0";
import { UsageError } from "../lib/errors.ts";
import { decodeUtf8 } from "../lib/corpus/utf8.ts";

// ---------------------------------------------------------------- flag table

/** The kinds of flag value. `choice` takes one of `choices`; `boolean` is a switch. */
export type FlagType = "string" | "number" | "integer" | "boolean" | "choice";

/** A parsed flag value. */
export type FlagValue = string | number | boolean;

/** One line of a script's flag table. */
export interface FlagSpec {
  /** The long name in kebab-case (`hidden-size`); the value is under its camelCase (`hiddenSize`). */
  readonly name: string;
  /** How the text on the command line becomes a value. */
  readonly type: FlagType;
  /** One sentence for `--help`. */
  readonly help: string;
  /** The allowed values of a `choice` flag. */
  readonly choices?: readonly string[];
  /** The value when the flag is absent; a flag without one is `undefined` (booleans: `false`). */
  readonly default?: FlagValue;
  /** A one-letter alias (`-e`). */
  readonly short?: string;
  /**
   * The placeholder in `--help`, without brackets (`path`, shown `<path>`). By
   * default one from the type; for a string flag from its name: `dir` for
   * `out`, `resume`, `checkpoint` and names ending in `-dir`, `path` for
   * `corpus`, `torch` and names ending in `-path` or `-file`, else `text`.
   */
  readonly valueName?: string;
  /** Checks a converted value: returns what was expected (an error text) or `undefined`. */
  validate?(value: FlagValue): string | undefined;
}

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}`
  : S;
type ValueOf<F extends FlagSpec> = F["type"] extends "boolean" ? boolean
  : F["type"] extends "number" | "integer" ? number
  : F extends { choices: readonly (infer C)[] } ? C
  : string;

/** The parsed values of a flag table, keyed by camelCase name, plus `help`. */
export type FlagValues<T extends readonly FlagSpec[]> =
  & { help: boolean }
  & {
    [F in T[number] as Camel<F["name"]>]: F extends { type: "boolean" } | { default: FlagValue }
      ? ValueOf<F>
      : ValueOf<F> | undefined;
  };

/** What {@linkcode parseFlags} returns. */
export interface ParsedFlags<T extends readonly FlagSpec[]> {
  values: FlagValues<T>;
  positionals: string[];
}

/** Options of {@linkcode parseFlags}. */
export interface ParseOptions {
  /** Accept arguments that are not flags. @default false */
  allowPositionals?: boolean;
}

/**
 * Declares a flag table, keeping its literal types (so `values.cell` is
 * `"rnn" | "gru" | "lstm"`) and checking it once: a bad table is a bug in the
 * script and throws a plain `Error`.
 *
 * @example
 * ```ts
 * const FLAGS = defineFlags([{ name: "lr", type: "number", default: 1, help: "Learning rate." }]);
 * ```
 */
export function defineFlags<const T extends readonly FlagSpec[]>(table: T): T {
  const names = new Set<string>(["help"]);
  const shorts = new Set<string>(["h"]);
  for (const spec of table) {
    const where = `flag table entry "${spec.name}"`;
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(spec.name) || spec.name.startsWith("no-")) {
      throw new Error(`Bad ${where}: names are kebab-case and do not start with "no-"`);
    }
    if (names.has(spec.name)) throw new Error(`Bad ${where}: the name is taken`);
    names.add(spec.name);
    if (spec.short !== undefined) {
      if (!/^[a-zA-Z]$/.test(spec.short) || shorts.has(spec.short)) {
        throw new Error(`Bad ${where}: short "${spec.short}" is not one free letter`);
      }
      shorts.add(spec.short);
    }
    if ((spec.type === "choice") !== (spec.choices !== undefined && spec.choices.length > 0)) {
      throw new Error(`Bad ${where}: a choice flag, and only a choice flag, lists choices`);
    }
    if (spec.default !== undefined) {
      const problem = checkValue(spec, spec.default);
      if (problem) {
        throw new Error(`Bad ${where}: default ${JSON.stringify(spec.default)}: ${problem}`);
      }
    }
  }
  return table;
}

/**
 * Parses `argv` against a flag table. Pure: reads no environment, prints nothing.
 *
 * `--name value` and `--name=value` both work; a boolean is `--name` (true) or
 * `--no-name` (false); `-h`/`--help` is always there. A flag given twice is an error.
 *
 * @param table the script's flags (see {@linkcode defineFlags}).
 * @param argv the arguments after the script name.
 * @returns the values by camelCase name (defaults filled in) and the positionals.
 * @throws {UsageError} naming the flag, the bad value (quoted) and what is allowed;
 *   an unknown flag comes with the nearest known one.
 *
 * @example Flags from a literal argv
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const FLAGS = defineFlags([
 *   { name: "hidden-size", type: "integer", default: 256, help: "Hidden units." },
 *   { name: "json", type: "boolean", help: "JSON lines on stdout." },
 * ]);
 * const { values } = parseFlags(FLAGS, ["--hidden-size=64", "--json"]);
 * deepStrictEqual(values, { help: false, hiddenSize: 64, json: true });
 * ```
 */
export function parseFlags<const T extends readonly FlagSpec[]>(
  table: T,
  argv: readonly string[],
  options: ParseOptions = {},
): ParsedFlags<T> {
  defineFlags(table); // cheap, and catches a table that skipped it
  const config: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const spec of table) {
    config[spec.name] = { type: spec.type === "boolean" ? "boolean" : "string" };
    if (spec.short) config[spec.name].short = spec.short;
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const byName = new Map(table.map((spec) => [spec.name, spec]));
  const values: Record<string, FlagValue | undefined> = { help: false };
  const given = new Map<string, string>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      if (!options.allowPositionals) {
        throw new UsageError(`Unexpected argument "${token.value}": this script takes flags only`);
      }
      positionals.push(token.value);
      continue;
    }
    const { rawName, value, inlineValue } = token;
    const negated = token.name.startsWith("no-") &&
      byName.get(token.name.slice(3))?.type === "boolean";
    const name = negated ? token.name.slice(3) : token.name;
    const spec = byName.get(name);
    if (name === "help") {
      if (value !== undefined) {
        throw new UsageError(`Invalid value "${value}" for --help: the flag takes no value`);
      }
      values.help = true;
      continue;
    }
    if (!spec) throw new UsageError(unknownFlagMessage(rawName, table));
    const flag = `--${spec.name}`;
    if (given.has(spec.name)) {
      throw new UsageError(
        `Flag ${flag} is given twice: "${given.get(spec.name)}", then "${value ?? rawName}"`,
      );
    }
    given.set(spec.name, value ?? rawName);
    if (spec.type === "boolean") {
      if (value !== undefined) {
        throw new UsageError(
          `Invalid value "${value}" for ${flag}: the flag takes no value (use ${flag} or --no-${spec.name})`,
        );
      }
      values[camel(spec.name)] = !negated;
      continue;
    }
    if (value === undefined || (!inlineValue && value.startsWith("--"))) {
      throw new UsageError(`Missing value for ${flag}: expected ${describeType(spec)}`);
    }
    values[camel(spec.name)] = convert(spec, value);
  }
  for (const spec of table) {
    const key = camel(spec.name);
    if (key in values) continue;
    values[key] = spec.default ?? (spec.type === "boolean" ? false : undefined);
  }
  return { values: values as FlagValues<T>, positionals };
}

function convert(spec: FlagSpec, text: string): FlagValue {
  let value: FlagValue = text;
  const invalid = (expected: string) =>
    new UsageError(`Invalid value "${text}" for --${spec.name}: ${expected}`);
  if (spec.type === "number" || spec.type === "integer") {
    const integer = spec.type === "integer";
    const ok = integer ? /^[+-]?\d+$/.test(text) : text.trim() !== "" && isFinite(Number(text));
    value = Number(text);
    if (!ok || (integer && !Number.isSafeInteger(value))) {
      throw invalid(`expected ${describeType(spec)}`);
    }
  }
  if (spec.type === "choice" && !spec.choices!.includes(text)) {
    const near = nearest(text, spec.choices!);
    throw invalid(`expected ${describeType(spec)}` + (near ? ` (did you mean "${near}"?)` : ""));
  }
  const problem = spec.validate?.(value);
  if (problem) throw invalid(problem);
  return value;
}

function checkValue(spec: FlagSpec, value: FlagValue): string | undefined {
  const jsType = { string: "string", choice: "string", number: "number", integer: "number" };
  const actual: string = typeof value;
  if (actual !== (spec.type === "boolean" ? "boolean" : jsType[spec.type])) {
    return `expected ${describeType(spec)}`;
  }
  if (spec.type === "integer" && !Number.isSafeInteger(value)) return "expected an integer";
  if (spec.type === "choice" && !spec.choices!.includes(value as string)) {
    return `expected ${describeType(spec)}`;
  }
  return spec.validate?.(value);
}

function describeType(spec: FlagSpec): string {
  switch (spec.type) {
    case "number":
      return "a number";
    case "integer":
      return "an integer";
    case "choice":
      return `one of ${spec.choices!.join(", ")}`;
    default:
      return "a value";
  }
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function unknownFlagMessage(rawName: string, table: readonly FlagSpec[]): string {
  const names = ["help", ...table.map((spec) => spec.name)];
  const positive = rawName.replace(/^--no-/, "");
  if (positive !== rawName && names.includes(positive)) {
    return `Unknown flag "${rawName}": --${positive} takes a value, so it has no --no- form`;
  }
  const near = rawName.startsWith("--") ? nearest(rawName.slice(2), names) : undefined;
  return `Unknown flag "${rawName}": ` +
    (near ? `did you mean "--${near}"?` : "see --help for the flags");
}

/** The candidate nearest to `word` by edit distance (or by prefix), if it is near enough. */
function nearest(word: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => c.startsWith(word) || word.startsWith(c));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (bestDistance <= Math.max(2, Math.floor(word.length / 3))) return best;
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/**
 * ` (did you mean "X"?)` for the candidate nearest to `word`, or "" when none is near.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(didYouMean("Rusian", ["Russian", "Czech"]), ' (did you mean "Russian"?)');
 * ```
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = nearest(word, candidates);
  return near === undefined ? "" : ` (did you mean "${near}"?)`;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

// ---------------------------------------------------------------- validators

/** A check for {@linkcode FlagSpec.validate}: the expected text, or `undefined` when fine. */
export type Validator = (value: FlagValue) => string | undefined;

/** Accepts numbers > 0. */
export const positive: Validator = (v) => (v as number) > 0 ? undefined : "expected a number > 0";

/** Accepts numbers >= 0. */
export const nonNegative: Validator = (v) =>
  (v as number) >= 0 ? undefined : "expected a number >= 0";

/**
 * A validator of comma-separated lists whose items pass `check`; `expected` is its message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert";
 * const threads = listOf((t) => /^[1-9]\d*$/.test(t), "expected integers >= 1");
 * equal(threads("1,2"), undefined);
 * equal(threads("1,x"), "expected integers >= 1");
 * ```
 */
export function listOf(check: (item: string) => boolean, expected: string): Validator {
  return (v) => {
    const items = (v as string).split(",").map((s) => s.trim()).filter(Boolean);
    return items.length > 0 && items.every(check) ? undefined : expected;
  };
}

/** Accepts integers >= 1. */
export const positiveInteger: Validator = (v) =>
  Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : "expected an integer >= 1";

/** Accepts integers >= 0. */
export const nonNegativeInteger: Validator = (v) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : "expected an integer >= 0";

/** Accepts any text but the empty one (a path flag given `''`). */
export const nonEmpty: Validator = (v) => v === "" ? "expected a non-empty path" : undefined;

/** Options of {@linkcode inRange}: which ends are excluded. */
export interface RangeOptions {
  /** Exclude `lo`. @default false */
  loOpen?: boolean;
  /** Exclude `hi`. @default false */
  hiOpen?: boolean;
}

/**
 * Accepts numbers between `lo` and `hi`, ends included unless opened.
 *
 * @example A dropout rate in [0, 1)
 * ```ts
 * import { strictEqual } from "node:assert";
 * const check = inRange(0, 1, { hiOpen: true });
 * strictEqual(check(0.5), undefined);
 * strictEqual(check(1), "expected a number in [0, 1)");
 * ```
 */
export function inRange(lo: number, hi: number, options: RangeOptions = {}): Validator {
  const text = `expected a number in ${options.loOpen ? "(" : "["}${lo}, ${hi}${
    options.hiOpen ? ")" : "]"
  }`;
  return (v) => {
    const x = v as number;
    const ok = (options.loOpen ? x > lo : x >= lo) && (options.hiOpen ? x < hi : x <= hi);
    return ok ? undefined : text;
  };
}

// ---------------------------------------------------------------- help

/** Options of {@linkcode helpText}. */
export interface HelpOptions {
  /** What follows `[flags]` on the usage line, e.g. `[file...]`. @default "" */
  positionals?: string;
}

const HELP_WIDTH = 80;
const MAX_LEFT = 30;

/**
 * The `--help` text: usage line, summary, then one aligned line per flag with
 * its placeholder and default. Stable: a test compares it with a literal.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const FLAGS = defineFlags([{ name: "lr", type: "number", default: 1, help: "Learning rate." }]);
 * ok(helpText("deno task train", "Train.", FLAGS).includes("--lr <number>"));
 * ```
 */
export function helpText(
  scriptName: string,
  summary: string,
  table: readonly FlagSpec[],
  options: HelpOptions = {},
): string {
  const rows = table.map((spec) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const long = spec.type === "boolean" && spec.default === true
      ? `--[no-]${spec.name}`
      : `--${spec.name}`;
    const placeholder = spec.type === "boolean" ? "" : ` <${placeholderOf(spec)}>`;
    const shown = spec.type === "boolean"
      ? spec.default === true
      : spec.default !== undefined && spec.default !== "";
    const help = spec.help + (shown ? ` (default: ${spec.default})` : "");
    return [short + long + placeholder, help];
  });
  rows.push(["-h, --help", "Show this help and exit."]);
  const left = Math.max(...rows.map(([l]) => l.length).filter((n) => n <= MAX_LEFT));
  const indent = 2 + left + 2;
  const lines = [
    `Usage: ${scriptName} [flags]${options.positionals ? " " + options.positionals : ""}`,
  ];
  lines.push("", ...wrap(summary, HELP_WIDTH), "", "Flags:");
  for (const [l, help] of rows) {
    const body = wrap(help, HELP_WIDTH - indent);
    if (l.length > left) lines.push(`  ${l}`, ...body.map((b) => " ".repeat(indent) + b));
    else {
      lines.push(
        `  ${l.padEnd(left)}  ${body[0]}`,
        ...body.slice(1).map((b) => " ".repeat(indent) + b),
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** The placeholder's text, without brackets (one given as `<dir>` is taken as `dir`). */
function placeholderOf(spec: FlagSpec): string {
  if (spec.valueName !== undefined) return spec.valueName.replace(/^<(.*)>$/, "$1");
  if (spec.type === "choice") return spec.choices!.join("|");
  if (spec.type === "integer") return "int";
  if (spec.type === "number") return "number";
  if (/^(out|resume|checkpoint)$|-dir$/.test(spec.name)) return "dir";
  if (/^(corpus|torch)$|-(path|file)$/.test(spec.name)) return "path";
  return "text";
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) [lines[lines.length], line] = [line, word];
    else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

// ---------------------------------------------------------------- running

/** Where {@linkcode runCli} reports; tests replace it. */
export interface RunIo {
  /** Writes text to stderr. */
  writeErr(text: string): void;
  /** Whether to print stack traces (env `RNN_DEBUG=1`). */
  debug: boolean;
}

/**
 * Runs a script's `main` and turns its outcome into an exit code, printing one
 * line `error: <message>` on stderr for an error: 2 for a {@linkcode UsageError},
 * 1 for anything else. Stacks only with `debug`. Exits nothing itself.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { UsageError } from "../lib/errors.ts";
 * const lines: string[] = [];
 * const io = { writeErr: (t: string) => void lines.push(t), debug: false };
 * const code = await runCli(() => Promise.reject(new UsageError('Bad "x"')), [], io);
 * strictEqual(code, 2);
 * strictEqual(lines.join(""), 'error: Bad "x"\n');
 * ```
 */
export async function runCli(
  main: (args: string[]) => Promise<number | void>,
  args: string[],
  io: RunIo,
): Promise<number> {
  try {
    const code = await main(args);
    return code === undefined ? 0 : Number.isInteger(code) && code >= 0 && code < 256 ? code : 1;
  } catch (error) {
    for (const bar of activeBars) bar.stop(); // gives the cursor back before the message
    const message = error instanceof Error ? error.message : String(error);
    io.writeErr(`error: ${message.split("\n")[0]}\n`);
    if (io.debug) io.writeErr(describeStack(error));
    return error instanceof UsageError ? 2 : 1;
  }
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined; e = (e as Error).cause) {
    parts.push(e instanceof Error ? e.stack ?? String(e) : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join("\ncaused by: ") + "\n";
}

/**
 * The entry point of a script: `if (import.meta.main) await runMain(main);`.
 * Calls `main(Deno.args)` through {@linkcode runCli} and exits with its code.
 */
export async function runMain(main: (args: string[]) => Promise<number | void>): Promise<never> {
  let debug = false;
  try {
    debug = Deno.env.get("RNN_DEBUG") === "1";
  } catch { /* no --allow-env: no debug */ }
  const code = await runCli(main, Deno.args, {
    writeErr: (text) => writeAll(Deno.stderr, text),
    debug,
  });
  Deno.exit(code);
}

// ---------------------------------------------------------------- output

/** A sink that takes bytes, maybe fewer than offered (`Deno.stdout` and `Deno.stderr` are). */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();

function writeAll(out: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += out.writeSync(bytes.subarray(done));
}

/**
 * Writes `obj` as one JSON line to stdout: the `--json` output. Non-finite
 * numbers become `null` (JSON has none).
 *
 * @example
 * ```ts
 * emitJson({ event: "evaluate", perplexity: 1.5 });
 * ```
 */
export function emitJson(obj: unknown, out: SyncWriter = Deno.stdout): void {
  writeAll(out, JSON.stringify(obj) + "\n");
}

/**
 * Writes a line for people to stderr (a trailing newline is added when
 * missing), clearing a progress bar's line first so the two do not mix.
 *
 * @example
 * ```ts
 * info("Loaded 170,580 characters");
 * ```
 */
export function info(text: string): void {
  const line = text.endsWith("\n") ? text : text + "\n";
  writeAll(Deno.stderr, (activeBars.size > 0 ? "\r\x1b[2K" : "") + line);
}

/**
 * The non-blank lines of a file given to a flag, or of stdin for `-` (as
 * written: not trimmed).
 *
 * @param flag the flag's name without dashes, for the error.
 * @throws {UsageError} when the file cannot be read or holds invalid UTF-8.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "go .\n\n  \nhi .\n");
 * deepStrictEqual(await readInputLines("translate-file", path), ["go .", "hi ."]);
 * ```
 */
export async function readInputLines(flag: string, path: string): Promise<string[]> {
  const bytes = path === "-"
    ? new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer())
    : await Deno.readFile(path).catch(() => {
      throw new UsageError(`Cannot read --${flag} "${path}": no such file`);
    });
  const text = await decodeUtf8(bytes, path === "-" ? "stdin" : path);
  return text.split(/\r?\n/).filter((line) => line.trim() !== "");
}

/**
 * Checks, before any work, that a file flag's path can be written: not a
 * directory, in an existing folder where this process may create files.
 * Writes nothing that stays.
 *
 * @param flag the flag's name without dashes, for the error.
 * @throws {UsageError} naming the flag, the path and what is in the way.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await checkWritableFile("heatmap", `${dir}/map.svg`);
 * await rejects(() => checkWritableFile("heatmap", dir), /--heatmap/);
 * await Deno.remove(dir);
 * ```
 */
export async function checkWritableFile(flag: string, path: string): Promise<void> {
  const bad = (why: string) => new UsageError(`Invalid --${flag} "${path}": ${why}`);
  const info = await Deno.stat(path).catch(() => undefined);
  if (info?.isDirectory) throw bad("it is a directory, expected a file path");
  const slash = path.lastIndexOf("/");
  const folder = slash < 0 ? "." : path.slice(0, slash) || "/";
  const parent = await Deno.stat(folder).catch(() => undefined);
  if (!parent?.isDirectory) throw bad(`the folder "${folder}" does not exist`);
  try {
    await Deno.remove(await Deno.makeTempFile({ dir: folder, prefix: ".write-check-" }));
  } catch (error) {
    throw bad(`cannot write in "${folder}" (${(error as Error).message})`);
  }
}

// ---------------------------------------------------------------- progress

/** What a progress bar draws on: a TTY-like stream (`process.stderr` by default). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Text before the bar, e.g. `epoch 3`. @default "" */
  label?: string;
  /** Draw nothing (for `--json`). @default false */
  silent?: boolean;
  /** Where to draw. @default process.stderr, drawn only when `Deno.stderr.isTerminal()` */
  stream?: ProgressStream;
}

const activeBars = new Set<Progress>();

/**
 * A progress bar on stderr (`cli-progress`), silent when stderr is not a
 * terminal or when asked. `using` stops it at the end of a block.
 *
 * @example
 * ```ts
 * using bar = new Progress(100, { label: "epoch 1", silent: true });
 * for (let i = 1; i <= 100; i++) bar.update(i, "ppl 12.3");
 * ```
 */
export class Progress {
  #bar: cliProgress.SingleBar | undefined;

  /**
   * @param total the value at which the bar is full.
   * @param options label, silence and stream.
   */
  constructor(total: number, options: ProgressOptions = {}) {
    const stream = options.stream ?? process.stderr;
    const tty = options.stream ? Boolean(stream.isTTY) : Deno.stderr.isTerminal();
    if (options.silent || !tty) return;
    const label = (options.label ?? "").replace(/[{}]/g, "");
    this.#bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: `${
        label ? label + " " : ""
      }{bar} {percentage}% | {value}/{total} | ETA {eta_formatted} {text}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    this.#bar.start(total, 0, { text: "" });
    activeBars.add(this);
  }

  /** Whether the bar draws anything. */
  get active(): boolean {
    return this.#bar !== undefined;
  }

  /** Moves the bar to `value`, with an optional short text after it. */
  update(value: number, text = ""): void {
    this.#bar?.update(value, { text });
  }

  /** Moves the bar on by one. */
  increment(text = ""): void {
    this.#bar?.increment(1, { text });
  }

  /** Removes the bar; further updates do nothing. */
  stop(): void {
    if (!this.#bar) return;
    this.#bar.stop();
    this.#bar = undefined;
    activeBars.delete(this);
  }

  /** Same as {@linkcode Progress.stop}. */
  [Symbol.dispose](): void {
    this.stop();
  }
}

/**
 * A script's parsed flags, or undefined after printing its help for
 * `--help` (the script then exits 0).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const FLAGS = defineFlags([{ name: "n", type: "integer", default: 1, help: "A count." }] as const);
 * strictEqual(flagsOrHelp(FLAGS, ["--n", "3"], "deno task x", "Does x.")?.n, 3);
 * ```
 */
export function flagsOrHelp<const T extends readonly FlagSpec[]>(
  table: T,
  args: readonly string[],
  usage: string,
  summary: string,
): ParsedFlags<T>["values"] | undefined {
  const { values } = parseFlags(table, args);
  if (!values.help) return values;
  console.log(helpText(usage, summary, table));
  return undefined;
}
