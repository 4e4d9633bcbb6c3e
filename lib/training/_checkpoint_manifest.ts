/**
 * Private: the checkpoint manifest's types and the checks a loaded one must pass.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { isRecord, type JsonValue } from "./_json.ts";

/** The format name in every manifest. */
export const CHECKPOINT_FORMAT = "rnn-deno-checkpoint";

/** The format version this library writes, and the newest it reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** The model kind of a checkpoint that records none (written before kinds were). */
export const DEFAULT_KIND = "lm";

/** tfjs's weight groups: the model's own weights, or an optimizer's slots. */
export type WeightGroup = "model" | "optimizer";

/** The tensor dtypes a checkpoint holds. */
export type WeightDtype = "float32" | "int32" | "bool" | "string" | "complex64";

/** Where one tensor sits in `weights.bin`. */
export interface WeightEntry {
  /** The key the caller gave, e.g. `layer0/W_xh` or `adam/m/layer0/W_xh`. */
  name: string;
  /** `model` for `weights`, `optimizer` for `optimizer`. */
  group: WeightGroup;
  /** The tensor's shape. */
  shape: number[];
  /** Its element type. */
  dtype: WeightDtype;
  /** Start in `weights.bin`, in bytes. */
  byteOffset: number;
  /** Length in `weights.bin`, in bytes (tfjs's `io.encodeWeights` layout). */
  byteLength: number;
}

/** The contents of `manifest.json`. */
export interface CheckpointManifest {
  /** Always `"rnn-deno-checkpoint"`. */
  format: typeof CHECKPOINT_FORMAT;
  /** The layout's version; a reader refuses a newer one. */
  formatVersion: number;
  /** The model kind (`TrainableModel.kind`); absent in older checkpoints, which hold "lm". */
  kind?: string;
  /** When it was written, ISO 8601. */
  createdAt: string;
  /** The caller's model and training configuration. */
  config: JsonValue;
  /** The caller's vocabulary. */
  vocab: JsonValue;
  /** The caller's progress: epoch, step, rng state, best loss... */
  progress: JsonValue;
  /** The size of `weights.bin` in bytes. */
  weightsByteLength: number;
  /** SHA-256 of `weights.bin`, lowercase hex. */
  weightsSha256: string;
  /** One entry per tensor, in file order. */
  weightSpecs: WeightEntry[];
}

const DTYPES: readonly string[] = ["float32", "int32", "bool", "string", "complex64"];
const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/**
 * Checks a parsed `manifest.json` and returns it typed.
 *
 * @throws {UsageError} naming the checkpoint, the field and both values.
 */
export function checkManifest(json: unknown, path: string): CheckpointManifest {
  assertManifest(json, path);
  return json;
}

/** Throws unless `json` has every field of a manifest, each of its type. */
function assertManifest(json: unknown, path: string): asserts json is CheckpointManifest {
  const fail = (what: string) => new UsageError(`Cannot load checkpoint "${path}": ${what}`);
  if (!isRecord(json)) throw fail("manifest.json is not a JSON object, so it is not a checkpoint");
  if (json.format !== CHECKPOINT_FORMAT) {
    throw fail(
      `manifest.json has format ${JSON.stringify(json.format ?? null)}, ` +
        `expected "${CHECKPOINT_FORMAT}", so it is not a checkpoint`,
    );
  }
  const version = json.formatVersion;
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw fail(`formatVersion is ${JSON.stringify(version ?? null)}, expected an integer >= 1`);
  }
  if ((version as number) > CHECKPOINT_FORMAT_VERSION) {
    throw fail(
      `formatVersion is ${version}, newer than ${CHECKPOINT_FORMAT_VERSION}, ` +
        "the newest this version of rnn-deno reads",
    );
  }
  const field = (name: string, ok: (v: unknown) => boolean, expected: string) => {
    if (!ok(json[name])) {
      throw fail(
        `manifest field ${name} is ${JSON.stringify(json[name] ?? null)}, expected ${expected}`,
      );
    }
  };
  field("kind", (v) => v === undefined || (typeof v === "string" && v !== ""), "a kind name");
  field("createdAt", (v) => typeof v === "string", "a date string");
  for (const name of ["config", "vocab", "progress"]) field(name, (v) => v !== undefined, "JSON");
  field("weightsByteLength", isCount, "a byte count");
  field("weightsSha256", (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v), "64 hex digits");
  field("weightSpecs", Array.isArray, "a list");
  const total = json.weightsByteLength as number;
  const seen = new Set<string>();
  (json.weightSpecs as unknown[]).forEach((entry, i) => {
    const problem = entryProblem(entry, total);
    if (problem) throw fail(`manifest field weightSpecs[${i}] ${problem}`);
    const { group, name } = entry as WeightEntry;
    if (seen.has(`${group}/${name}`)) throw fail(`${group} weight "${name}" is listed twice`);
    seen.add(`${group}/${name}`);
  });
}

function entryProblem(entry: unknown, total: number): string | undefined {
  if (!isRecord(entry)) return "is not an object";
  const { name, group, shape, dtype, byteOffset, byteLength } = entry;
  if (typeof name !== "string" || name === "") return "has no name";
  if (group !== "model" && group !== "optimizer") {
    return `has group ${JSON.stringify(group ?? null)}, expected "model" or "optimizer"`;
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return `has shape ${JSON.stringify(shape ?? null)}, expected a list of sizes`;
  }
  if (typeof dtype !== "string" || !DTYPES.includes(dtype)) {
    return `has dtype ${JSON.stringify(dtype ?? null)}, expected one of ${DTYPES.join(", ")}`;
  }
  if (!isCount(byteOffset) || !isCount(byteLength) || byteOffset + byteLength > total) {
    return `has bytes [${byteOffset}, +${byteLength}), outside weights.bin's ${total} bytes`;
  }
  const size = BYTES_PER_ELEMENT[dtype];
  const expected = size && shape.reduce((a: number, b: number) => a * b, 1) * size;
  if (size && byteLength !== expected) {
    return `("${name}") has byteLength ${byteLength}, but shape [${shape}] of ${dtype} takes ${expected}`;
  }
  return undefined;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
