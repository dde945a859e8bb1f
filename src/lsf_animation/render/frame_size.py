"""The video frame sizes the renderer accepts, checked before any work is done.

Rendering a frame of S x S pixels holds about 23 S^2 bytes per rendering thread (triangle ids,
depths, linear colour and the image), so the upper bound keeps a 4096-pixel frame near 390 MB
per thread, and refuses sizes whose buffers could not be allocated at all (100,000 pixels would
need 37 GiB for its triangle ids alone).
"""

from __future__ import annotations

from lsf_animation.errors import LsfError

MIN_FRAME_SIZE = 16
MAX_FRAME_SIZE = 4096


def check_frame_size(size: int) -> int:
    """`size` if it is an even number of pixels in [16, 4096], else an LsfError."""
    if not MIN_FRAME_SIZE <= size <= MAX_FRAME_SIZE or size % 2:
        raise LsfError(
            f"--size must be an even number of pixels from {MIN_FRAME_SIZE} to "
            f"{MAX_FRAME_SIZE}, got {size}"
        )
    return int(size)
