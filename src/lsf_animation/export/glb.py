"""A minimal glTF 2.0 binary (.glb) writer: typed arrays in, accessors and one buffer out.

`GlbBuilder` collects numpy arrays as accessors (each in its own 4-byte-aligned buffer view of
the single binary buffer) and packs the JSON document and the buffer into the GLB container
(glTF 2.0 specification, section 4.4 "Binary glTF Layout": a 12-byte header, a JSON chunk padded
with spaces and a BIN chunk padded with zeros, both to 4 bytes). It knows nothing about faces or
animation; `export.gltf` builds the document with it.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

GLB_MAGIC = 0x46546C67  # "glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"

ARRAY_BUFFER = 34962  # bufferView.target for vertex attributes
ELEMENT_ARRAY_BUFFER = 34963  # bufferView.target for indices

# numpy dtype -> glTF componentType (specification 3.6.2.2, "Accessor Data Types").
COMPONENT_TYPES = {
    np.dtype(np.int8): 5120,
    np.dtype(np.uint8): 5121,
    np.dtype(np.int16): 5122,
    np.dtype(np.uint16): 5123,
    np.dtype(np.uint32): 5125,
    np.dtype(np.float32): 5126,
}
# Components per element -> accessor type (matrices are stored column-major, 16 per MAT4).
ELEMENT_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}

JsonObject = dict[str, Any]


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


class GlbBuilder:
    """Accumulates the binary buffer and the `accessors` / `bufferViews` of a glTF document."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._length = 0
        self.accessors: list[JsonObject] = []
        self.buffer_views: list[JsonObject] = []

    def add(
        self,
        array: np.ndarray,
        element: int,
        target: int | None = None,
        min_max: bool = False,
    ) -> int:
        """Store `array` as an accessor; returns the accessor's index.

        Args:
            array: (N, element) or (N,) values of a dtype in COMPONENT_TYPES, little-endian.
            element: components per element (1, 2, 3, 4 or 16).
            target: ARRAY_BUFFER or ELEMENT_ARRAY_BUFFER for vertex data, None otherwise.
            min_max: record per-component `min` / `max` (required for POSITION attributes and
                animation sampler inputs).
        """
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<")
        if array.dtype not in COMPONENT_TYPES:
            raise ValueError(f"no glTF component type for dtype {array.dtype}")
        flat = array.reshape(-1, element)
        data = flat.astype(dtype, copy=False).tobytes()
        view: JsonObject = {"buffer": 0, "byteOffset": self._length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self._chunks.append(_pad(data, b"\x00"))
        self._length += len(self._chunks[-1])
        self.buffer_views.append(view)
        accessor: JsonObject = {
            "bufferView": len(self.buffer_views) - 1,
            "componentType": COMPONENT_TYPES[array.dtype],
            "count": int(flat.shape[0]),
            "type": ELEMENT_TYPES[element],
        }
        if min_max:
            cast = float if array.dtype.kind == "f" else int
            accessor["min"] = [cast(v) for v in flat.min(axis=0)]
            accessor["max"] = [cast(v) for v in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    @property
    def byte_length(self) -> int:
        return self._length

    def glb(self, document: JsonObject) -> bytes:
        """The GLB file: `document` (without accessors/bufferViews/buffers, which are added
        here) and the binary buffer."""
        doc = dict(document)
        doc["accessors"] = self.accessors
        doc["bufferViews"] = self.buffer_views
        doc["buffers"] = [{"byteLength": self._length}]
        json_bytes = _pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
        binary = b"".join(self._chunks)
        total = 12 + 8 + len(json_bytes) + 8 + len(binary)
        return b"".join(
            [
                struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
                struct.pack("<II", len(json_bytes), CHUNK_JSON),
                json_bytes,
                struct.pack("<II", len(binary), CHUNK_BIN),
                binary,
            ]
        )
