"""How the shipped demo checkpoint is made, in one call: `lsf-animation demo --retrain`.

The default synthetic corpus (clean audio: trained on audio augmented to sound recorded, the
model learned the emotions less, see configs/demo.yaml), the `demo` config's two offline speech
streams, then stage 1 and stage 2 of the `demo` config. Each step resumes what an interrupted
call left.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lsf_animation.audio.extract import extract_corpus
from lsf_animation.data.synth.generate import DEFAULT_IDENTITIES, DEFAULT_SENTENCES, generate_corpus
from lsf_animation.errors import LsfError
from lsf_animation.io.atomic import atomic_path
from lsf_animation.train.config import load_train_config
from lsf_animation.train.data import Echo, stderr_echo
from lsf_animation.train.run import train_stage


def retrain_demo(
    work: str | Path,
    identities: int = DEFAULT_IDENTITIES,
    sentences: int = DEFAULT_SENTENCES,
    max_epochs: int | None = None,
    workers: int = 2,
    progress: bool = True,
    echo: Echo = stderr_echo,
) -> Path:
    """Make the demo checkpoint from nothing: corpus, features, stage 1, stage 2.

    Writes under `work`: synthetic_corpus/, cache/ (features), run/stage{1,2}/ and demo.ckpt
    (a copy of run/stage2/model.ckpt). Each step resumes what an interrupted call left.

    Args:
        identities, sentences: the corpus size (defaults: the shipped checkpoint's).
        max_epochs: caps both stages (quick checks); None = the config's.

    Returns:
        The path of the new demo.ckpt.
    """
    work = Path(work).expanduser()
    corpus, cache, run = work / "synthetic_corpus", work / "cache", work / "run"
    echo(f"[1/4] synthetic corpus: {corpus}")
    made = generate_corpus(corpus, identities, sentences, 0, workers, progress=progress)
    echo(made.summary())
    echo(f"[2/4] speech features: {cache}")
    streams = load_train_config("demo").features
    names = [s.name for s in streams.streams()]
    report = extract_corpus(
        corpus, names, cache, workers, streams.extract_options(), progress=progress
    )
    echo(report.summary())
    if report.failed:
        path, reason = report.failed[0]
        raise LsfError(
            f"feature extraction failed for {len(report.failed)} synthetic clips (e.g. {path}: "
            f"{reason}); delete {cache} and run `lsf-animation demo --retrain` again"
        )
    overrides = [f"data.root={corpus}", f"out={run}", f"features.cache={cache}"]
    for stage in (1, 2):
        echo(f"[{stage + 2}/4] training stage {stage}: {run / f'stage{stage}'}")
        sets = overrides + ([f"stage{stage}.max_epochs={max_epochs}"] if max_epochs else [])
        model_file = run / f"stage{stage}" / "model.ckpt"
        if model_file.is_file():
            echo(f"already trained: {model_file}")
            continue
        saved = run / f"stage{stage}" / "checkpoints"
        resume = any((saved / name).is_file() for name in ("last.ckpt", "best.ckpt"))
        train_stage(stage, load_train_config("demo", sets), resume=resume, progress=progress,
                    echo=echo)  # fmt: skip
    target = work / "demo.ckpt"
    with atomic_path(target, "the demo checkpoint") as tmp:
        shutil.copyfile(run / "stage2" / "model.ckpt", tmp)
    return target
