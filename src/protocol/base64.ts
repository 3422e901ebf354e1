/**
 * Base64 for znode data on the wire. Uses the runtime's native codec where it has one
 * (Uint8Array.fromBase64/toBase64), else atob/btoa, which every target has.
 */
type NativeB64 = {
  fromBase64?: (s: string) => Uint8Array;
};

const native = Uint8Array as unknown as NativeB64;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0 || !B64.test(s)) throw new Error("data is not valid base64");
  if (native.fromBase64) return native.fromBase64(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeBase64(data: Uint8Array): string {
  const withNative = data as Uint8Array & { toBase64?: () => string };
  if (typeof withNative.toBase64 === "function") return withNative.toBase64();
  let bin = "";
  for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(bin);
}
