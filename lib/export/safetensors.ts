/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header
 * length, a JSON header naming each tensor's dtype, shape and byte range
 * (plus an optional `__metadata__` record of strings), then the raw
 * little-endian data. What `safetensors.torch.load_file` reads.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** A named tensor: row-major float32 values and a shape. */
export interface NamedArray {
  /** The tensor's shape. */
  shape: number[];
  /** Its values, row-major. */
  data: Float32Array;
}

/** What a safetensors file holds. */
export interface SafetensorsContents {
  /** The tensors by name. */
  tensors: Record<string, NamedArray>;
  /** The header's `__metadata__` (strings only), empty when absent. */
  metadata: Record<string, string>;
}

/**
 * Encodes float32 tensors (in the order given) and string metadata.
 *
 * @example A round trip
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const bytes = encodeSafetensors({ w: { shape: [2], data: Float32Array.of(1, 2) } }, { kind: "lm" });
 * const back = decodeSafetensors(bytes);
 * deepStrictEqual(Array.from(back.tensors.w.data), [1, 2]);
 * deepStrictEqual(back.metadata, { kind: "lm" });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new UsageError(
        `Cannot write safetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`,
      );
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(padded - json.length));
  }
  const bytes = new Uint8Array(8 + json.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return bytes;
}

/**
 * Decodes a safetensors file; F32 and F64 tensors are read as float32.
 *
 * @throws {UsageError} for a truncated file, a header that is not JSON, a
 *   dtype other than F32/F64, or a byte range that does not fit its shape.
 *
 * @example A truncated file names the tensor that does not fit
 * ```ts
 * import { throws } from "node:assert";
 * const bytes = encodeSafetensors({ w: { shape: [2], data: Float32Array.of(1, 2) } });
 * throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 1)), /"w"/);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, name = "the file"): SafetensorsContents {
  const bad = (why: string) => new UsageError(`Cannot read safetensors ${name}: ${why}`);
  if (bytes.length < 8) throw bad(`it has ${bytes.length} bytes, expected at least 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) {
    throw bad(`its header claims ${headerLength} bytes, but the file has ${bytes.length}`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw bad("its header is not JSON");
  }
  const data = bytes.subarray(8 + headerLength);
  const tensors: Record<string, NamedArray> = {};
  for (const [key, entry] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const { dtype, shape, data_offsets: [begin, end] } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const width = dtype === "F32" ? 4 : dtype === "F64" ? 8 : 0;
    if (width === 0) throw bad(`"${key}" has dtype ${dtype}, expected F32 or F64`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== width * size || end > data.length || begin < 0) {
      throw bad(`"${key}" has bytes ${begin}..${end} for shape [${shape}] of ${dtype}`);
    }
    const copy = data.slice(begin, end); // aligned copy
    const values = width === 4
      ? new Float32Array(copy.buffer)
      : Float32Array.from(new Float64Array(copy.buffer));
    tensors[key] = { shape, data: values };
  }
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  return { tensors, metadata };
}
