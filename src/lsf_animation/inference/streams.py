"""A window's speech streams, and the worker threads inference runs on.

`SpeechStreams` turns a window of audio into the model's input streams: each extractor's features
and, for the paper preset, HuBERT's fine-tuned upper layers on the motion stream, so the two
streams carry similar shares of the work.

`WorkerLanes` runs that work on dedicated threads without touching the caller's torch settings.
On 2 cores, two single-threaded encoders side by side keep both cores busy with no
synchronization between them, where one encoder after the other on 2 threads waits at every
operator's barrier (and loses much more when another process shares the cores). Torch's CPU
thread count is per thread under OpenMP: each lane's thread sets its own count once when it
starts, and the process-wide default that `torch.set_num_threads` also records is put back at
once, so the caller's threads, and threads started later, keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from lsf_animation.audio.features import FeatureExtractor

R = TypeVar("R")
MODEL_LANE = "model"


class SpeechStreams:
    """The speech streams of a stage-2 model.

    Args:
        extractors: role ("motion", "emotion") -> extractor.
        backbone: module run on the motion stream first (`LSFModel.motion_backbone`), or None.
    """

    def __init__(
        self, extractors: Mapping[str, FeatureExtractor], backbone: nn.Module | None
    ) -> None:
        self.extractors = dict(extractors)
        self.backbone = backbone

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.extractors)

    def compute(
        self, role: str, wav: np.ndarray, extractor: FeatureExtractor | None = None
    ) -> torch.Tensor:
        """(N,) float32 16 kHz -> (1, T50, D) features of one stream (through the backbone for
        the motion stream), by the role's extractor or the `extractor` given for it."""
        extractor = self.extractors[role] if extractor is None else extractor
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(extractor(wav)))[None]
            if role == "motion" and self.backbone is not None:
                x = self.backbone(x, None)
        return x

    def compute_all(
        self,
        lanes: WorkerLanes,
        wav: np.ndarray,
        replaced: Mapping[str, FeatureExtractor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every stream of one window, each on its role's lane (side by side when the lanes
        are parallel): role -> (1, T50, D). `replaced`: extractors to use instead of the
        roles' own for this window."""
        replaced = replaced or {}
        futures = {
            role: lanes.submit(role, self.compute, role, wav, replaced.get(role))
            for role in self.roles
        }
        return {role: future.result() for role, future in futures.items()}


def _set_threads(count: int) -> None:
    torch.set_num_threads(count)


class WorkerLanes(AbstractContextManager["WorkerLanes"]):
    """Single-thread executors ("lanes"), each with its own torch thread count.

    The "model" lane has `num_threads` threads; with `parallel` roles, each of them gets a lane
    with `num_threads // len(parallel)` threads (at least 1). Work for a role without a lane of
    its own runs on the model lane, in submission order.

    Args:
        num_threads: torch threads of the model lane (and split among the parallel lanes).
        parallel: roles to run side by side, each on its own lane; () = everything on one lane.
    """

    def __init__(self, num_threads: int, parallel: tuple[str, ...] = ()) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        share = max(1, num_threads // max(1, len(parallel)))
        counts = {MODEL_LANE: num_threads, **{role: share for role in parallel}}
        self._lanes = {
            name: ThreadPoolExecutor(1, f"lsf-{name}", _set_threads, (count,))
            for name, count in counts.items()
        }
        default = torch.get_num_threads()
        for lane in self._lanes.values():  # start each thread: its initializer sets its count
            lane.submit(lambda: None).result()
        torch.set_num_threads(default)  # the process-wide default, for threads started later

    def submit(self, lane: str, fn: Callable[..., R], *args: object) -> Future[R]:
        """Run `fn(*args)` on `lane` (the model lane when `lane` has none of its own)."""
        return self._lanes.get(lane, self._lanes[MODEL_LANE]).submit(fn, *args)

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
