"""Run speech-feature extractors over every audio file of a corpus, into the feature cache.

Used by `lsf-animation extract`. Each worker process builds the extractors once, then for each
file hashes its bytes, skips the extractors whose entries are already cached (so an interrupted
run resumes where it stopped) and decodes the audio only when something is missing.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lsf_animation.audio.cache import FeatureCache, audio_key, read_entry
from lsf_animation.audio.features import FeatureExtractor, available_extractors, get_extractor
from lsf_animation.errors import LsfError
from lsf_animation.io.atomic import write_error

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".m4a", ".mp3")
"""File name endings (case-insensitive) that `find_audio_files` picks up."""


@dataclass
class ExtractReport:
    """What one `extract_corpus` run did.

    Attributes:
        files: audio files found.
        computed: entries computed and written, per feature name.
        cached: entries found already in the cache, per feature name.
        failed: (file, reason) for each file that could not be processed.
    """

    files: int = 0
    computed: dict[str, int] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line per feature: computed and cached counts."""
        lines = [
            f"{name}: {self.computed.get(name, 0)} computed, {self.cached.get(name, 0)} cached"
            for name in sorted(set(self.computed) | set(self.cached))
        ]
        return "\n".join([f"{self.files} audio files", *lines])


def parse_feature_names(spec: str) -> list[str]:
    """ "a,b" -> ["a", "b"] (blanks and duplicates dropped), each checked against the registry.

    Raises:
        LsfError: empty list or an unknown name.
    """
    names = list(dict.fromkeys(s.strip() for s in spec.split(",") if s.strip()))
    if not names:
        raise LsfError(
            f"--features is empty; give one or more of: {', '.join(available_extractors())}"
        )
    known = available_extractors()
    for name in names:
        if name not in known:
            raise LsfError(
                f"unknown speech feature {name!r} in --features; choose from: {', '.join(known)}"
            )
    return names


def parse_options(items: Sequence[str], features: Sequence[str]) -> dict[str, dict[str, Any]]:
    """["hubert.model=/models/hubert", "offline-motion.n_mels=32"] -> per-feature options.

    Values are read as JSON when they parse (numbers, true/false), else kept as strings.

    Raises:
        LsfError: an item not of the form FEATURE.KEY=VALUE, or naming a feature not extracted.
    """
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        m = re.fullmatch(r"([^=]+)\.([A-Za-z_]\w*)=(.*)", item)
        if not m:
            raise LsfError(f"--option {item!r} is not of the form FEATURE.KEY=VALUE")
        name, key, raw = m.groups()
        if name not in features:
            raise LsfError(f"--option {item!r} names {name!r}, which is not in --features")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        options.setdefault(name, {})[key] = value
    return options


def option_arguments(options: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Per-feature options as `--option FEATURE.KEY=VALUE` arguments (the inverse of
    `parse_options`; values as JSON when they are not plain strings)."""
    args: list[str] = []
    for name, values in options.items():
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["--option", f"{name}.{key}={text}"]
    return args


def find_audio_files(data_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Audio files under `data_dir`, recursively, sorted; hidden directories (such as a cache
    kept inside the corpus) and `exclude` are skipped."""
    excluded = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(data_dir, followlinks=True):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and (excluded is None or (here / d).resolve() != excluded)
        )
        found += [
            here / f
            for f in sorted(filenames)
            if f.lower().endswith(AUDIO_EXTENSIONS) and not f.startswith(".")
        ]
    return found


# Per-worker state, set by _init_worker.
_WORKER: dict[str, Any] = {}


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def _one_thread_per_child() -> Iterator[None]:
    """Children started inside get one BLAS/OpenMP/torch thread each.

    The variables must be in the environment the child starts with: numpy's BLAS and torch read
    them once, at import, which in a spawned worker happens before any initializer runs.
    Measured: with 2 threads each, 2 workers were no faster than 1 on 2 cores.
    """
    saved = {var: os.environ.get(var) for var in _THREAD_VARS}
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _init_worker(
    cache_root: str,
    specs: list[tuple[str, dict[str, Any]]],
    limit_threads: bool,
    extractors: list[FeatureExtractor] | None = None,
) -> None:
    _WORKER["cache"] = FeatureCache(cache_root)
    _WORKER["extractors"] = extractors or [get_extractor(name, **opts) for name, opts in specs]
    if limit_threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


DISK_FULL = "the disk is full"
"""A worker's error for a file whose features could not be written for lack of space."""


def _default_load(path: Path) -> np.ndarray:
    from lsf_animation.audio.load import load_audio

    return load_audio(path)


def _process_file(
    path: str, load: Callable[[Path], np.ndarray] | None = None
) -> tuple[str, list[str], list[str], str | None]:
    """(path, computed names, cached names, error or None) for one file, in a worker."""
    cache: FeatureCache = _WORKER["cache"]
    extractors: list[FeatureExtractor] = _WORKER["extractors"]
    computed: list[str] = []
    cached: list[str] = []
    try:
        key = audio_key(path)
        wav = None
        for ex in extractors:
            entry = cache.entry_path(ex, key)
            if read_entry(entry) is not None:
                cached.append(ex.name)
                continue
            if wav is None:
                wav = (load or _default_load)(Path(path))
            cache._compute_and_store(ex, wav, entry, source=path)
            computed.append(ex.name)
    except LsfError as err:
        return path, computed, cached, str(err)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):  # no use trying the other files
            return path, computed, cached, DISK_FULL
        return path, computed, cached, f"{type(err).__name__}: {err}"
    except (ValueError, RuntimeError) as err:
        return path, computed, cached, f"{type(err).__name__}: {err}"
    return path, computed, cached, None


def extract_corpus(
    data_dir: str | Path,
    features: Sequence[str],
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
    load: Callable[[Path], np.ndarray] | None = None,
) -> ExtractReport:
    """Compute `features` for every audio file under `data_dir` into the cache.

    Args:
        data_dir: corpus root, walked recursively for `AUDIO_EXTENSIONS`.
        features: extractor names.
        cache_dir: cache root; None -> `cache.default_cache_dir()`.
        workers: processes; None -> all available cores (at most one per file). 1 runs in this
            process.
        options: per-feature keyword options for `get_extractor`.
        progress: show a tqdm bar on stderr.
        load: path -> waveform, only with workers=1 (tests); default `audio.load.load_audio`.

    Returns:
        The counts of computed, cached and failed entries.

    Raises:
        LsfError: `data_dir` missing or not a directory, no audio in it, unknown feature; or the
            disk of the cache is full (at once, in one line: the other files would fail too).
    """
    data = Path(data_dir).expanduser()
    if not data.exists():
        raise LsfError(f"--data {data} does not exist; give the corpus directory")
    if not data.is_dir():
        raise LsfError(f"--data {data} is not a directory; give the corpus directory")
    names = parse_feature_names(",".join(features))
    cache = FeatureCache(cache_dir)
    files = find_audio_files(data, exclude=cache.root)
    if not files:
        raise LsfError(
            f"no audio files ({' '.join(AUDIO_EXTENSIONS)}) under {data}; check the --data path"
        )
    specs = [(name, dict((options or {}).get(name, {}))) for name in names]
    # Built here first so a bad name or option fails once, clearly, before any worker starts.
    extractors = [get_extractor(name, **opts) for name, opts in specs]
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n_workers = max(1, min(workers or available or 1, len(files)))
    report = ExtractReport(files=len(files))
    bar = tqdm(total=len(files), desc="extract", unit="file", disable=not progress)

    def tally(result: tuple[str, list[str], list[str], str | None]) -> None:
        path, computed, cached, error = result
        if error == DISK_FULL:
            full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise write_error(
                "speech features", cache.root, full,
                then="run extract again (the files finished so far are cached)",
            )  # fmt: skip
        for name in computed:
            report.computed[name] = report.computed.get(name, 0) + 1
        for name in cached:
            report.cached[name] = report.cached.get(name, 0) + 1
        if error is not None:
            report.failed.append((path, error))
        bar.update(1)

    try:
        if n_workers == 1:
            _init_worker(str(cache.root), specs, limit_threads=False, extractors=extractors)
            for f in files:
                tally(_process_file(str(f), load))
        else:
            if load is not None:
                raise ValueError("a custom load function needs workers=1")
            ctx = get_context("spawn")  # no fork of a process that may hold torch threads
            with _one_thread_per_child():
                pool = ProcessPoolExecutor(
                    n_workers,
                    mp_context=ctx,
                    initializer=_init_worker,
                    initargs=(str(cache.root), specs, True),
                )
                try:
                    futures = [pool.submit(_process_file, str(f)) for f in files]
                    for fut in as_completed(futures):
                        tally(fut.result())
                except BrokenProcessPool as err:
                    raise LsfError(
                        "a feature worker process died (out of memory?); finished files are "
                        "cached: run extract again, with fewer --workers if it recurs"
                    ) from err
                finally:
                    # On Ctrl-C or an error, drop the queued files instead of waiting for them.
                    pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
        _WORKER.clear()
    return report
