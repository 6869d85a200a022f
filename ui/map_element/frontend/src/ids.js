// Row ids on the wire, both ways: sorted ids as ranges [start, length, ...] or, when shorter,
// a bitmask of n bits in base64 (bit i of byte i >> 3, least significant first).
// ui/map_element/ids.py is the Python side of the same format.

export function encodeIds(ids, n) {
  const sorted = Int32Array.from(ids).sort();
  const ranges = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[j - 1] + 1) j += 1;
    ranges.push(sorted[i], j - i);
    i = j;
  }
  const bitmaskBytes = Math.ceil(n / 8);
  if (ranges.length * 7 <= (bitmaskBytes * 4) / 3) return { count: sorted.length, ranges };
  const bits = new Uint8Array(bitmaskBytes);
  for (const id of sorted) bits[id >> 3] |= 1 << (id & 7);
  let text = '';
  for (let i = 0; i < bits.length; i += 0x8000) text += String.fromCharCode.apply(null, bits.subarray(i, i + 0x8000));
  return { count: sorted.length, bits: btoa(text) };
}

export function decodeIds(encoded, n) {
  // A Uint8Array mask of n points: 1 where the id is in ``encoded``.
  const mask = new Uint8Array(n);
  if (!encoded) return mask;
  if (encoded.ranges) {
    const r = encoded.ranges;
    for (let i = 0; i + 1 < r.length; i += 2) mask.fill(1, r[i], Math.min(n, r[i] + r[i + 1]));
  } else if (encoded.bits) {
    const text = atob(encoded.bits);
    for (let id = 0; id < n; id += 1) {
      if ((text.charCodeAt(id >> 3) >> (id & 7)) & 1) mask[id] = 1;
    }
  }
  return mask;
}
