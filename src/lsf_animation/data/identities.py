"""Speaker -> identity label for the one-hot model variants, stored in checkpoints.

The index covers the training speakers only, sorted by id, so it is the same whatever the order
of the clips. Speakers outside it (validation/test speakers of a speaker split) have no label of
their own: `index` returns `unknown` (default -1, which the one-hot variants reject), or a fixed
training speaker's label when the caller wants FaceFormer-style conditioning on a seen identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lsf_animation.data.clips import Clip
from lsf_animation.errors import LsfError

UNKNOWN = -1


class IdentityIndex:
    """Sorted training speakers -> 0..n-1.

    Args:
        subjects: the training speakers (duplicates ignored).
    """

    def __init__(self, subjects: Iterable[str]) -> None:
        self.subjects: tuple[str, ...] = tuple(sorted(set(subjects)))
        if not self.subjects:
            raise LsfError("identity index: no training speakers")
        self._index = {s: i for i, s in enumerate(self.subjects)}

    @classmethod
    def from_clips(cls, clips: Sequence[Clip]) -> IdentityIndex:
        """Index over the speakers of the (training) clips."""
        return cls(c.subject for c in clips)

    def __len__(self) -> int:
        return len(self.subjects)

    def __contains__(self, subject: object) -> bool:
        return subject in self._index

    def index(self, subject: str, unknown: int = UNKNOWN) -> int:
        """The speaker's label, or `unknown` for a speaker not in the index."""
        return self._index.get(subject, unknown)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "identity_index", "subjects": list(self.subjects)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IdentityIndex:
        if not isinstance(d, dict) or not isinstance(d.get("subjects"), list):
            raise LsfError("not a stored identity index (expected a 'subjects' list)")
        return cls(str(s) for s in d["subjects"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdentityIndex) and self.subjects == other.subjects

    def __repr__(self) -> str:
        return f"IdentityIndex({len(self)} speakers)"
