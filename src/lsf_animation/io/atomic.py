"""Atomic writes: a file or folder appears under its final name only when it is complete.

Everything is written to a hidden temporary sibling (same folder, so the final rename is atomic
on POSIX) and renamed onto the destination at the end; on any error, or an interrupt, the
temporary is removed and the destination is left as it was. The temporary is created by whoever
writes it (`open`, h5py, PyAV, Pillow, `torch.save`), so it gets the user's umask permissions,
unlike `tempfile.mkstemp`'s owner-only 0600.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from lsf_animation.errors import LsfError


def temporary_sibling(path: Path, suffix: str = ".part") -> Path:
    """A fresh hidden name beside `path`: `.<name>.<random>.part`."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}")


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def write_error(what: str, path: Path, err: OSError) -> LsfError:
    """The one-line error for an OS failure while writing `what` to `path`."""
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        advice = "the disk is full: free some space or choose another location, then run again"
    else:
        advice = "choose a writable output location"
    return LsfError(f"cannot write {what} to {path} ({reason}); {advice}")


@contextlib.contextmanager
def atomic_path(
    path: str | Path, what: str | None = None, make_parents: bool = True
) -> Iterator[Path]:
    """Yield a temporary path to write `path` through; rename it onto `path` when the block
    completes, remove it when the block fails.

    Args:
        path: the final file (or folder) name.
        what: what is written ("the motion file"): given, an OS error while writing or renaming
            (disk full, permission) becomes an `LsfError` in one line naming it and `path`;
            None lets the `OSError` through (for callers that handle it themselves).
        make_parents: create missing parent folders first.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        if what is None:
            raise
        raise write_error(what, path, err) from err
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, what: str | None = None) -> Path:
    """Write `data` to `path` atomically; returns `path`."""
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)
