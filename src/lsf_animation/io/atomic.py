"""Atomic writes: a file or folder appears under its final name only when it is complete.

Everything is written to a hidden temporary sibling (same folder, so the final rename is atomic
on POSIX) and renamed onto the destination at the end; on any error, or an interrupt, the
temporary is removed and the destination is left as it was. The temporary is created by whoever
writes it (`open`, h5py, PyAV, Pillow, `torch.save`), so it gets the user's umask permissions,
unlike `tempfile.mkstemp`'s owner-only 0600.

A process killed outright (SIGKILL, power loss) cannot remove its temporaries, so their names
say whose they are: `.<name>.<host>-<pid>-<random>.part` beside a file, `.partial-<host>-<pid>-
<random>` for a staging folder (<host>: the host name and PID namespace). `remove_stale(folder)`
deletes those of this host whose process no longer runs; every atomic write (and the exporters'
staging) calls it on its folder first, so a new run into the same folder cleans up after a
killed one, and never touches a live run's files or anyone else's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

from lsf_animation.errors import LsfError

_SIBLING = re.compile(r"\..+\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{12}\.(?:part|old)")
_STAGING = re.compile(r"\.partial-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{12}")


def _host() -> str:
    """This machine and PID namespace, as letters and digits: the host name, then the PID
    namespace's id where there is one (containers sharing a host name and a folder see each
    other's process ids as dead, so each must only judge its own)."""
    name = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"
    try:
        return f"{name}n{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def _owner() -> str:
    """`<host>-<pid>-<random>`: whose temporary a name is, and unique."""
    return f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def temporary_sibling(path: Path, suffix: str = ".part") -> Path:
    """A fresh hidden name beside `path`: `.<name>.<host>-<pid>-<random><suffix>` (suffix
    `.part` or `.old`, the names `remove_stale` recognises)."""
    if suffix not in (".part", ".old"):
        raise ValueError(f"temporary suffix must be .part or .old, got {suffix!r}")
    return path.with_name(f".{path.name}.{_owner()}{suffix}")


def make_staging_folder(parent: Path) -> Path:
    """Create and return a fresh hidden staging folder `.partial-<host>-<pid>-<random>` inside
    `parent` (which must exist); permissions follow the umask."""
    folder = parent / f".partial-{_owner()}"
    folder.mkdir()
    return folder


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: leave its files alone
    return True


def remove_stale(folder: str | Path) -> list[Path]:
    """Remove the temporaries and staging folders in `folder` (not below it) that a process of
    this host left behind when it was killed: names written by `temporary_sibling` or
    `make_staging_folder` whose process no longer runs. Returns what was removed."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    host, removed = _host(), []
    for entry in entries:
        match = _SIBLING.fullmatch(entry.name) or _STAGING.fullmatch(entry.name)
        if match is None or match["host"] != host or _process_alive(int(match["pid"])):
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    """Bytes in a file, or in all files below a folder (0 when absent)."""
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _free_space(path: Path) -> int | None:
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def write_error(
    what: str,
    path: Path,
    err: OSError,
    written: int | None = None,
    needed: int | None = None,
    then: str = "run again",
) -> LsfError:
    """The one-line error for an OS failure while writing `what` to `path`.

    For a full disk it says how much was written before the disk filled (`written` bytes) or
    how much the write needs (`needed` bytes), how much is free, and to free space and `then`.
    """
    reason = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        amounts = []
        if needed:
            amounts.append(f"it needs {_megabytes(needed)}")
        elif written:
            amounts.append(f"{_megabytes(written)} written before it filled")
        free = _free_space(path)
        if free is not None:
            amounts.append(f"{_megabytes(free)} free there now")
        detail = f"the disk is full ({'; '.join(amounts)})" if amounts else "the disk is full"
        return LsfError(
            f"cannot write {what} to {path}: {detail}; free some space or choose another "
            f"location, then {then}"
        )
    return LsfError(f"cannot write {what} to {path} ({reason}); choose a writable output location")


@contextlib.contextmanager
def atomic_path(
    path: str | Path, what: str | None = None, make_parents: bool = True, then: str = "run again"
) -> Iterator[Path]:
    """Yield a temporary path to write `path` through; rename it onto `path` when the block
    completes, remove it when the block fails. Temporaries that killed processes left in
    `path`'s folder are removed first (`remove_stale`).

    Args:
        path: the final file (or folder) name.
        what: what is written ("the motion file"): given, an OS error while writing or renaming
            (disk full, permission) becomes an `LsfError` in one line naming it and `path`;
            None lets the `OSError` through (for callers that handle it themselves).
        make_parents: create missing parent folders first.
        then: what the error tells the user to do once the disk has room ("run again").
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        written = _size(tmp)
        _remove(tmp)
        if what is None:
            raise
        raise write_error(what, path, err, written=written, then=then) from err
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, what: str | None = None) -> Path:
    """Write `data` to `path` atomically; returns `path`."""
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)
