/** Znode data: bytes on the wire; strings are UTF-8. */
export type Data = Uint8Array | ArrayBuffer | string;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBytes(data: Data | undefined | null): Uint8Array {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === "string") return encoder.encode(data);
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

export const utf8 = (bytes: Uint8Array): string => decoder.decode(bytes);

/** JSON as znode data. */
export const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
export const fromJson = <T = unknown>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T;
