/** Protobuf unsigned varints, for the hand-written encoders (hot-path-encoders.ts, watch-encoding.ts). */

/** Bytes protobuf takes for the unsigned varint `n`. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size += 1;
  }
  return size;
}

/** Writes the unsigned varint `n` at `pos`; answers the position after it. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}
