"""The safetensors format by hand: an 8-byte little-endian header length, a UTF-8 JSON header
mapping each tensor name to {dtype, shape, data_offsets: [begin, end]} (byte offsets into the data
section) plus an optional "__metadata__" string map, then the raw little-endian tensor bytes.
Reads F32/F64/F16/BF16 (and integer types); writes F32/F64 (what gymrl writes), padding the header
with spaces so the data section starts 8-byte aligned, as the reference implementation does.
"""
import json
import struct
import sys

import torch

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def _check_little_endian():
    if sys.byteorder != "little":
        raise SafetensorsError("safetensors: this reader assumes a little-endian host")


def parse(buf):
    """bytes → (metadata dict, {name: tensor}). Tensors are copies (writable, independent of buf)."""
    _check_little_endian()
    if len(buf) < 8:
        raise SafetensorsError("safetensors: file is shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise SafetensorsError(f"safetensors: header length {n} runs past the end of the file ({len(buf)} bytes)")
    header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"))
    data = memoryview(buf)[8 + n :]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, e in header.items():
        dtype = _DTYPES.get(e.get("dtype"))
        if dtype is None:
            raise SafetensorsError(f"safetensors: tensor {name} has unknown dtype {e.get('dtype')}")
        shape = [int(x) for x in e["shape"]]
        b, end = e["data_offsets"]
        count = 1
        for x in shape:
            count *= x
        size = torch.tensor([], dtype=dtype).element_size()
        if not (0 <= b <= end <= len(data)) or end - b != count * size:
            raise SafetensorsError(f"safetensors: tensor {name} has bad data_offsets [{b}, {end}] for {e['dtype']} {shape}")
        raw = bytearray(data[b:end])  # a writable copy: frombuffer shares memory with it
        t = torch.frombuffer(raw, dtype=dtype) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(shape)
    return metadata, tensors


def load_file(path):
    with open(path, "rb") as f:
        return parse(f.read())


def serialize(tensors, metadata=None):
    """[(name, tensor)] → bytes. Tensors are written in their dtype, contiguous, in the given order."""
    _check_little_endian()
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors:
        t = t.detach().to("cpu").contiguous()
        if t.dtype not in _NAMES:
            raise SafetensorsError(f"safetensors: cannot write tensor {name} of dtype {t.dtype}")
        raw = _tensor_bytes(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    return b"".join([struct.pack("<Q", len(js)), js, *blobs])


def _tensor_bytes(t):
    """Raw bytes of a contiguous CPU tensor, without numpy: copy into a bytearray through a view."""
    n = t.numel() * t.element_size()
    out = bytearray(n)
    if n:
        torch.frombuffer(out, dtype=torch.uint8).copy_(t.reshape(-1).view(torch.uint8))
    return bytes(out)


def to_float(t, dtype=torch.float32):
    if not t.is_floating_point():
        raise SafetensorsError(f"cannot read a {t.dtype} tensor as float")
    return t.to(dtype)
