"""Row ids on the wire between the map element and Python: sorted ids as ranges
{"count", "ranges": [start, length, ...]} or, when shorter, a bitmask {"count", "bits": base64}
(bit i in byte i >> 3, least significant bit first). The browser's side is frontend/src/ids.js.

Streamlit caps what the browser sends back at 25 MB; a bitmask of a million points is 167 kB."""

from __future__ import annotations

import base64

import numpy as np


def encode_ids(ids, n: int) -> dict:
    """The shorter of ranges and a bitmask for row ids (each in 0..n-1)."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if len(ids) and (ids[0] < 0 or ids[-1] >= n):
        raise ValueError(f"row ids must lie in 0..{n - 1}, got {ids[0]}..{ids[-1]}")
    if not len(ids):
        return {"count": 0, "ranges": []}
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    starts = ids[np.r_[0, breaks]]
    lengths = np.diff(np.r_[0, breaks, len(ids)])
    bitmask_chars = (n + 7) // 8 * 4 / 3
    if len(starts) * 7 <= bitmask_chars:
        ranges = np.column_stack([starts, lengths]).ravel()
        return {"count": int(len(ids)), "ranges": [int(v) for v in ranges]}
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    return {"count": int(len(ids)), "bits": base64.b64encode(np.packbits(mask, bitorder="little").tobytes()).decode()}


def decode_ids(payload, n: int) -> np.ndarray:
    """The sorted int32 row ids of a payload from the browser; ids outside 0..n-1 are dropped,
    and anything unreadable is no ids (a stale or garbled event changes nothing)."""
    if not isinstance(payload, dict):
        return np.zeros(0, np.int32)
    if isinstance(payload.get("ranges"), list):
        values = np.asarray(payload["ranges"], dtype=np.int64)
        if values.size % 2:
            return np.zeros(0, np.int32)
        parts = [np.arange(s, s + length) for s, length in values.reshape(-1, 2) if length > 0]
        ids = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    elif isinstance(payload.get("bits"), str):
        try:
            raw = np.frombuffer(base64.b64decode(payload["bits"], validate=True), dtype=np.uint8)
        except ValueError:
            return np.zeros(0, np.int32)
        ids = np.flatnonzero(np.unpackbits(raw, bitorder="little"))
    else:
        return np.zeros(0, np.int32)
    return ids[(ids >= 0) & (ids < n)].astype(np.int32)
