"""How Lightning writes training checkpoints (best.ckpt, last.ckpt): atomically, in place.

Lightning's own writer serializes into memory and copies the bytes through fsspec's transaction
(a temporary file made with `mkstemp`, so owner-only 0600 permissions, then moved, which across
file systems is a copy): a full disk could leave a truncated file under the final name, and
the file ignored the umask. `AtomicCheckpointIO` writes through `io.atomic.atomic_path` instead
(`checkpoint.files.save_torch_file`):
a hidden temporary beside the final name, renamed onto it only when complete (a truncated file
is never under a checkpoint's name), with the umask's permissions. A full disk is one line that
says how much was written and what to run next; temporaries of killed runs are removed on the
next save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from lsf_animation.checkpoint.files import save_torch_file
from lsf_animation.io.atomic import remove_stale


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO for local folders, with atomic, umask-respecting writes."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent)
        save_torch_file(checkpoint, path, "the training checkpoint", then=_next(path))


def _next(path: Path) -> str:
    """What to run once the disk has room again (no truncated checkpoint is ever left)."""
    if any((path.parent / name).is_file() for name in ("last.ckpt", "best.ckpt")):
        return "rerun the same command with --resume to continue from the last saved epoch"
    return "rerun the same command (no epoch was saved yet, so it starts over)"
