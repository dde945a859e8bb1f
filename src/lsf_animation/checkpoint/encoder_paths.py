"""Where the speech encoders are now: `--hubert DIR`, `--emotion2vec FILE` or `--assets DIR`.

A checkpoint records the options its extractors were built with, paths included (made absolute
at training). On another machine those paths are stale; `EncoderPaths` replaces them for
`animate` and `evaluate`. The encoders built from the new paths are still checked against the
fingerprints recorded at training (`checkpoint.features.verify_extractor`), so pointing at other
weights is an error, not a silently different model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsf_animation.errors import LsfError

PATH_OPTION = {"hubert": "model", "hubert-frozen": "model", "emotion2vec": "checkpoint"}
"""Extractor name -> the option that names its weights."""
HUBERT_FOLDERS = ("hubert-base-ls960", "hubert")
EMOTION2VEC_FILES = ("emotion2vec_base.pt", "emotion2vec_base/emotion2vec_base.pt", "model.pt")


@dataclass(frozen=True)
class EncoderPaths:
    """Paths that replace the recorded ones; None keeps the recorded path.

    Attributes:
        hubert: a HuBERT folder written by `save_pretrained` (config.json + weights).
        emotion2vec: emotion2vec_base.pt (or an emotion2vec_plus model.pt).
    """

    hubert: Path | None = None
    emotion2vec: Path | None = None

    @classmethod
    def from_options(
        cls, hubert: Path | None = None, emotion2vec: Path | None = None, assets: Path | None = None
    ) -> EncoderPaths:
        """The CLI's options, checked: every named path exists (LsfError naming it if not).
        `assets` is a folder holding a HuBERT folder (hubert-base-ls960/) and/or
        emotion2vec_base.pt; an explicit `hubert` / `emotion2vec` wins over what it holds."""
        if assets is not None:
            found = find_assets(assets)
            hubert = hubert or found.hubert
            emotion2vec = emotion2vec or found.emotion2vec
        paths = cls(hubert, emotion2vec)
        if hubert is not None and not Path(hubert).expanduser().is_dir():
            raise LsfError(
                f"--hubert {hubert} is not a folder; give the folder holding HuBERT's "
                "config.json and weights (save_pretrained of facebook/hubert-base-ls960)"
            )
        if emotion2vec is not None and not Path(emotion2vec).expanduser().is_file():
            raise LsfError(
                f"--emotion2vec {emotion2vec} does not exist; give the emotion2vec_base.pt file"
            )
        return paths

    def path_for(self, extractor: str) -> Path | None:
        """The replacement path for extractor `extractor`, or None."""
        if extractor in ("hubert", "hubert-frozen"):
            return self.hubert
        if extractor == "emotion2vec":
            return self.emotion2vec
        return None

    def options(self, extractor: str, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """`recorded` options with the path option replaced (absolute) when a path is given."""
        options = dict(recorded)
        path = self.path_for(extractor)
        if path is not None:
            options[PATH_OPTION[extractor]] = str(Path(path).expanduser().resolve())
        return options


def find_assets(folder: Path) -> EncoderPaths:
    """The encoders in an assets folder (LsfError when it holds neither)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise LsfError(f"--assets {folder} is not a folder")
    hubert = next(
        (root / n for n in HUBERT_FOLDERS if (root / n / "config.json").is_file()),
        root if (root / "config.json").is_file() else None,
    )
    emotion2vec = next((root / n for n in EMOTION2VEC_FILES if (root / n).is_file()), None)
    if hubert is None and emotion2vec is None:
        raise LsfError(
            f"--assets {folder} holds neither a HuBERT folder ({' or '.join(HUBERT_FOLDERS)}/ "
            f"with config.json) nor {EMOTION2VEC_FILES[0]}; give --hubert / --emotion2vec instead"
        )
    return EncoderPaths(hubert, emotion2vec)


def absolute_paths(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options with every string that names an existing file or folder made absolute, so a
    checkpoint's record does not depend on the folder training ran in."""
    out = dict(options)
    for key, value in options.items():
        if isinstance(value, str) and value and Path(value).expanduser().exists():
            out[key] = str(Path(value).expanduser().resolve())
    return out
