/**
 * MQTT 5 property blocks (MQTT 5.0 section 2.2.2): a strict decoder and the encoder, driven by the one property
 * table (broker/property-table.ts). Every v5 packet, hot path (broker/codec5.ts) or mqtt-packet (broker/codec.ts),
 * reads its properties through here.
 */
import {
  BY_ID,
  isList,
  MALFORMED_PACKET,
  type Properties,
  type PropertyContext,
  type PropertyDef,
  PropertyError,
  PROTOCOL_ERROR,
  TABLE,
  Type,
} from "./property-table.js";

export { type Properties, PropertyError, WILL_PROPERTIES, MALFORMED_PACKET, PROTOCOL_ERROR } from "./property-table.js";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads a Variable Byte Integer at `at` (not past `end`); returns value and the offset after it. At most 4 bytes,
 * in the fewest bytes that hold the value [MQTT-1.5.5-1].
 */
export function readVarInt(buf: Buffer, at: number, end: number): { value: number; next: number } {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) throw new PropertyError("variable byte integer overruns the packet", MALFORMED_PACKET);
    const b = buf[at + i] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw new PropertyError("variable byte integer not in its shortest form [MQTT-1.5.5-1]", MALFORMED_PACKET);
      return { value, next: at + i + 1 };
    }
    mul *= 128;
  }
  throw new PropertyError("variable byte integer longer than 4 bytes", MALFORMED_PACKET);
}

function need(at: number, n: number, end: number, what: string): void {
  if (at + n > end) throw new PropertyError(`${what} overruns the property block`, MALFORMED_PACKET);
}

function readUtf8(buf: Buffer, at: number, end: number, what: string): { value: string; next: number } {
  need(at, 2, end, what);
  const len = ((buf[at] as number) << 8) | (buf[at + 1] as number);
  need(at + 2, len, end, what);
  let value: string;
  try {
    value = strictUtf8.decode(buf.subarray(at + 2, at + 2 + len));
  } catch {
    throw new PropertyError(`${what}: ill-formed UTF-8 [MQTT-1.5.4-1]`, MALFORMED_PACKET);
  }
  if (value.includes("\u0000")) throw new PropertyError(`${what}: contains U+0000 [MQTT-1.5.4-2]`, MALFORMED_PACKET);
  return { value, next: at + 2 + len };
}

/**
 * Decodes a property block: its Property Length at `at`, then the properties, all within `end`. Returns the
 * properties (undefined when there are none, so a packet without properties allocates nothing more) and the offset
 * after the block. Throws `PropertyError` for what the spec calls malformed (0x81: unknown identifier, an
 * identifier not valid for the packet, a value that is not of its type, a length that overruns) or a protocol
 * error (0x82: a single-valued property twice, a value the property does not allow).
 */
export function decodeProperties(
  buf: Buffer,
  at: number,
  end: number,
  context: PropertyContext,
): { props: Properties | undefined; next: number } {
  const { value: length, next: start } = readVarInt(buf, at, end);
  const blockEnd = start + length;
  if (blockEnd > end) throw new PropertyError(`property length ${length} overruns the packet`, MALFORMED_PACKET);
  if (length === 0) return { props: undefined, next: start };
  const props: Record<string, unknown> = {};
  const bit = 1 << context;
  let pos = start;
  while (pos < blockEnd) {
    // Identifiers are Variable Byte Integers; every one defined is a single byte below 0x80.
    const id = buf[pos++] as number;
    const def = BY_ID[id];
    if (def === undefined) throw new PropertyError(`unknown property identifier 0x${id.toString(16)}`, MALFORMED_PACKET);
    // "A Control Packet which contains an Identifier which is not valid for its packet type ... is a Malformed Packet" (2.2.2.2).
    if ((def.allowed & bit) === 0) throw new PropertyError(`${def.name} is not valid in this packet`, MALFORMED_PACKET);
    const seen = props[def.name];
    if (seen !== undefined && (def.repeats & bit) === 0) {
      throw new PropertyError(`${def.name} included more than once`, PROTOCOL_ERROR);
    }
    let value: unknown;
    switch (def.type) {
      case Type.Byte:
        need(pos, 1, blockEnd, def.name);
        value = buf[pos++] as number;
        break;
      case Type.TwoByte:
        need(pos, 2, blockEnd, def.name);
        value = buf.readUInt16BE(pos);
        pos += 2;
        break;
      case Type.FourByte:
        need(pos, 4, blockEnd, def.name);
        value = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case Type.VarInt: {
        const r = readVarInt(buf, pos, blockEnd);
        value = r.value;
        pos = r.next;
        break;
      }
      case Type.Utf8: {
        const r = readUtf8(buf, pos, blockEnd, def.name);
        value = r.value;
        pos = r.next;
        break;
      }
      case Type.Utf8Pair: {
        const k = readUtf8(buf, pos, blockEnd, "user property name");
        const v = readUtf8(buf, k.next, blockEnd, "user property value");
        value = [k.value, v.value];
        pos = v.next;
        break;
      }
      case Type.Binary: {
        need(pos, 2, blockEnd, def.name);
        const len = buf.readUInt16BE(pos);
        need(pos + 2, len, blockEnd, def.name);
        value = Buffer.from(buf.subarray(pos + 2, pos + 2 + len));
        pos += 2 + len;
        break;
      }
    }
    if (def.valid !== undefined && !def.valid(value as number)) {
      throw new PropertyError(`${def.name} has the value ${value as number}, which it does not allow`, PROTOCOL_ERROR);
    }
    if (!isList(def)) props[def.name] = value;
    else if (seen === undefined) props[def.name] = [value];
    else (seen as unknown[]).push(value);
  }
  return { props: props as Properties, next: blockEnd };
}

export function varIntSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

export function writeVarInt(buf: Buffer, at: number, n: number): number {
  let pos = at;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  return pos;
}

/** Bytes of one value of `def`'s type. */
function valueSize(def: PropertyDef, v: unknown): number {
  switch (def.type) {
    case Type.Byte:
      return 1;
    case Type.TwoByte:
      return 2;
    case Type.FourByte:
      return 4;
    case Type.VarInt:
      return varIntSize(v as number);
    case Type.Utf8:
      return 2 + Buffer.byteLength(v as string);
    case Type.Utf8Pair:
      return 4 + Buffer.byteLength((v as [string, string])[0]) + Buffer.byteLength((v as [string, string])[1]);
    case Type.Binary:
      return 2 + (v as Buffer).length;
  }
}

function writeValue(buf: Buffer, at: number, def: PropertyDef, v: unknown): number {
  switch (def.type) {
    case Type.Byte:
      buf[at] = v as number;
      return at + 1;
    case Type.TwoByte:
      return buf.writeUInt16BE(v as number, at);
    case Type.FourByte:
      return buf.writeUInt32BE(v as number, at);
    case Type.VarInt:
      return writeVarInt(buf, at, v as number);
    case Type.Utf8: {
      const n = buf.write(v as string, at + 2, "utf8");
      buf.writeUInt16BE(n, at);
      return at + 2 + n;
    }
    case Type.Utf8Pair:
      return writeValue(buf, writeValue(buf, at, UTF8, (v as [string, string])[0]), UTF8, (v as [string, string])[1]);
    case Type.Binary:
      buf.writeUInt16BE((v as Buffer).length, at);
      return at + 2 + (v as Buffer).copy(buf, at + 2);
  }
}
const UTF8 = { type: Type.Utf8 } as PropertyDef;

/** Bytes of the properties, without the Property Length in front of them. */
export function propertiesLength(props: Properties | undefined): number {
  if (props === undefined) return 0;
  let n = 0;
  for (const def of TABLE) {
    const v = props[def.name];
    if (v === undefined) continue;
    if (isList(def)) for (const one of v as unknown[]) n += 1 + valueSize(def, one);
    else n += 1 + valueSize(def, v);
  }
  return n;
}

/** Writes Property Length (`length` from `propertiesLength`) and the properties at `at`; returns the offset after. */
export function writeProperties(buf: Buffer, at: number, props: Properties | undefined, length: number): number {
  let pos = writeVarInt(buf, at, length);
  if (props === undefined) return pos;
  for (const def of TABLE) {
    const v = props[def.name];
    if (v === undefined) continue;
    for (const one of isList(def) ? (v as unknown[]) : [v]) {
      buf[pos++] = def.id;
      pos = writeValue(buf, pos, def, one);
    }
  }
  return pos;
}

/** A whole property block (Property Length included), e.g. to encode a message's properties once for many receivers. */
export function encodeProperties(props: Properties | undefined): Buffer {
  const length = propertiesLength(props);
  const buf = Buffer.allocUnsafe(varIntSize(length) + length);
  writeProperties(buf, 0, props, length);
  return buf;
}
