"""st.py — minimal safetensors reader/writer and .npy helpers for the steerd oracle tests.

The `safetensors` Python package is not available here, so this is a small independent
implementation of the format documented in docs/FORMATS.md section 2:

    u64 little-endian N | N bytes of JSON header (space-padded to a multiple of 8) | raw data

header = {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
          "__metadata__": {str: str}}; offsets are relative to the start of the data section.
`checksum` in __metadata__ is "sha256:<hex of the whole data section>" (steerd convention).

Also holds the tiny helpers used to corrupt files for the bad-input cases (the writer can emit
arbitrary header entries / data so a test can build a deliberately wrong file).
No tolerance applies here: round-trips are exact.
"""
import hashlib
import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
          "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "U8": np.dtype("u1")}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode(tensors, metadata=None, checksum=True, dtype_override=None):
    """Serialises {name: ndarray} (written in dict order) into safetensors bytes.

    tensors are cast to float32 unless dtype_override[name] names another dtype ("F16" ...),
    in which case the tensor is cast to that dtype and labelled accordingly.
    checksum=True adds __metadata__["checksum"] for the data section; a str value is written
    verbatim (to forge a wrong checksum)."""
    dtype_override = dtype_override or {}
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        code = dtype_override.get(name, "F32")
        raw = np.ascontiguousarray(np.asarray(arr), dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": [int(d) for d in np.shape(arr)],
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    meta = dict(metadata or {})
    if checksum is True:
        meta["checksum"] = "sha256:" + sha256_hex(data)
    elif isinstance(checksum, str):
        meta["checksum"] = checksum
    if meta:
        header = {"__metadata__": meta, **header}
    return pack(header, data)


def pack(header: dict, data: bytes) -> bytes:
    """Assembles a file from an explicit header dict and data bytes (no validation)."""
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((-len(hj)) % 8)
    return struct.pack("<Q", len(hj)) + hj + data


def save(path, tensors, metadata=None, checksum=True, dtype_override=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata, checksum, dtype_override))


def split(buf: bytes):
    """Returns (header dict, data bytes) of a safetensors buffer; raises ValueError if malformed."""
    if len(buf) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"header length {n} runs past the end of the file ({len(buf)} bytes)")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header, buf[8 + n:]


def decode(buf: bytes, verify=True):
    """Parses safetensors bytes into ({name: float ndarray}, metadata); bounds- and checksum-checked."""
    header, data = split(buf)
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = DTYPES.get(info.get("dtype"))
        if dt is None:
            raise ValueError(f"{name}: unsupported dtype {info.get('dtype')}")
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= b <= e <= len(data)) or e - b != count * dt.itemsize:
            raise ValueError(f"{name}: data_offsets {b},{e} do not fit shape {shape} / data {len(data)}")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).copy()
    cs = meta.get("checksum")
    if verify and cs is not None and cs != "sha256:" + sha256_hex(data):
        raise ValueError("checksum mismatch")
    return out, meta


def load(path, verify=True):
    with open(path, "rb") as f:
        return decode(f.read(), verify)


def save_npy(path, arr):
    np.save(path, arr)


def load_npy(path):
    return np.load(path, allow_pickle=False)
