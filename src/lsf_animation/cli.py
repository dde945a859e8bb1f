"""The `lsf-animation` command. Each subcommand is a thin wrapper over the library.

One module for one concept (the command line: its options, help texts and how errors are
printed), hence its length. Errors: an `LsfError` anywhere is printed as one line on stderr and
exits with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

import click

from lsf_animation import __version__
from lsf_animation.constants import MAX_SAMPLES, MAX_SEED
from lsf_animation.errors import LsfError

SEED = click.IntRange(0, MAX_SEED)
SAMPLES = click.IntRange(1, MAX_SAMPLES)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lsf-animation")
def cli() -> None:
    """Label-free, emotion-aware, speech-driven 3D facial animation."""


@cli.command()
@click.argument("motion", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="The .mp4 to write."
)
@click.option("--audio", type=click.Path(path_type=Path), help="Audio to mux into the video.")
@click.option(
    "--face",
    default="builtin",
    show_default=True,
    help="`builtin`, or a FLAME model file (.pkl or .npz).",
)
@click.option("--sample", default=0, show_default=True, help="Which sample of a (K, T, 53) motion.")
@click.option(
    "--size", default=512, show_default=True, help="Frame width and height in pixels (16-4096)."
)
def render(motion: Path, out: Path, audio: Path | None, face: str, sample: int, size: int) -> None:
    """Render MOTION (.npz with `motion` (T, 53) or (K, T, 53) and `shape` (300,)) to an mp4.

    Any length renders in bounded memory: the vertices are computed in chunks, once to frame the
    camera and once to render (two progress bars)."""
    from lsf_animation.export.base import check_output_dir
    from lsf_animation.export.motion_npz import load_motion
    from lsf_animation.face.load import load_face_model
    from lsf_animation.render.frame_size import check_frame_size
    from lsf_animation.render.video import check_video_path, write_motion_video

    if out.suffix.lower() != ".mp4":
        raise LsfError(f"--out must name an .mp4 file, got {out}")
    if out.is_dir():
        raise LsfError(f"cannot write the video to {out}: it is a folder; name the .mp4 file")
    check_output_dir(out.parent)  # exists or can be made, writable
    check_frame_size(size)
    if audio is not None and not audio.is_file():
        raise LsfError(f"audio file not found: {audio}")
    motion_file = load_motion(motion)
    motion_file.check_sample(sample)
    face_model = load_face_model(face)
    out.parent.mkdir(parents=True, exist_ok=True)  # as animate makes its --out folder
    check_video_path(out)
    write_motion_video(face_model, motion_file, out, audio, sample, size, progress=True)
    click.echo(f"wrote {out}")


@cli.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Corpus directory, walked recursively for .wav .flac .ogg .m4a .mp3 files.",
)
@click.option(
    "--features",
    help="Comma-separated extractor names: offline-motion, offline-prosody, offline-voice, "
    "offline-phonetic (no download), hubert, hubert-frozen, emotion2vec (need --option with "
    "their weights).",
)
@click.option(
    "--config",
    "config_path",
    help="Instead of --features: the speech streams of this training config, with its options "
    "(e.g. --config demo).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Feature cache directory. Default: $LSF_ANIMATION_CACHE, else "
    "~/.cache/lsf-animation/features (per user, so read-only corpora work; entries are keyed "
    "by file content, so one cache serves every corpus).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes. Default: all available cores.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="FEATURE.KEY=VALUE",
    help="Extractor option, repeatable, e.g. hubert.model=/models/hubert-base-ls960.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def extract(
    data_dir: Path,
    features: str | None,
    config_path: str | None,
    cache_dir: Path | None,
    workers: int | None,
    options: tuple[str, ...],
    quiet: bool,
) -> None:
    """Compute speech features for every audio file under --data into the feature cache.

    Already-cached entries are skipped, so an interrupted run resumes; an entry is recomputed
    when the audio file's bytes or the extractor's config/weights change, or when it is damaged.
    """
    from lsf_animation.audio.extract import extract_corpus, parse_feature_names, parse_options

    if (features is None) == (config_path is None):
        raise LsfError("give the features to compute: --features NAMES or --config CONFIG")
    if config_path is not None:
        from lsf_animation.train.config import load_train_config

        streams = load_train_config(config_path).features
        names = [s.name for s in streams.streams()]
        chosen = streams.extract_options()
        for name, values in parse_options(options, names).items():
            chosen[name].update(values)
    else:
        assert features is not None
        names = parse_feature_names(features)
        chosen = parse_options(options, names)
    report = extract_corpus(data_dir, names, cache_dir, workers, chosen, progress=not quiet)
    click.echo(report.summary())
    if report.failed:
        for path, reason in report.failed:
            click.echo(f"failed: {path}: {reason}", err=True)
        raise LsfError(
            f"{len(report.failed)} of {report.files} audio files failed (listed above); the "
            "others are cached: fix or remove the failed files and run extract again"
        )


@cli.command()
@click.argument("stage", type=click.Choice(["stage1", "stage2"]))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Training config: configs/demo.yaml, configs/paper.yaml, configs/ablation_<variant>.yaml.",
)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Corpus root.")
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="Output folder (stage N: OUT/stageN)."
)
@click.option(
    "--cache", "cache_dir", type=click.Path(path_type=Path), help="Feature cache (stage 2)."
)
@click.option(
    "--prior",
    type=click.Path(path_type=Path),
    help="Stage 2: the stage-1 checkpoint. Default: OUT/stage1/model.ckpt.",
)
@click.option("--resume", is_flag=True, help="Continue from OUT/stageN/checkpoints/last.ckpt.")
@click.option("--max-epochs", type=click.IntRange(min=1), help="Upper bound on epochs.")
@click.option("--devices", help="Devices per machine (a number or 'auto').")
@click.option("--num-nodes", type=click.IntRange(min=1), help="Machines (multi-node DDP).")
@click.option("--strategy", help="Lightning strategy: auto, ddp, ddp_spawn, fsdp, ...")
@click.option("--accelerator", help="auto, cpu, gpu, ...")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config key, repeatable, e.g. --set stage2.lr=5e-6 --set data.batch_size=4.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(
    stage: str,
    config_path: Path,
    data_dir: Path | None,
    out: Path | None,
    cache_dir: Path | None,
    prior: Path | None,
    resume: bool,
    max_epochs: int | None,
    devices: str | None,
    num_nodes: int | None,
    strategy: str | None,
    accelerator: str | None,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train STAGE (stage1: the motion prior; stage2: the SIE-Encoder against the frozen prior).

    Writes OUT/stageN/checkpoints/{best,last}.ckpt, OUT/stageN/model.ckpt (the best weights, for
    inference) and OUT/stageN/logs/. Stage 2 reads its speech features from the cache: run
    `lsf-animation extract` with the config's features first.
    """
    from lsf_animation.train.config import load_train_config
    from lsf_animation.train.run import train_stage

    _quiet_lightning()
    n = 1 if stage == "stage1" else 2
    section = f"stage{n}"
    sets = list(overrides)
    for key, value in (
        ("data.root", data_dir),
        ("out", out),
        ("features.cache", cache_dir),
        (f"{section}.max_epochs", max_epochs),
        ("trainer.devices", devices),
        ("trainer.num_nodes", num_nodes),
        ("trainer.strategy", strategy),
        ("trainer.accelerator", accelerator),
    ):
        if value is not None:
            sets.append(f"{key}={value}")
    cfg = load_train_config(config_path, sets)
    result = train_stage(n, cfg, prior=prior, resume=resume, progress=not quiet, echo=click.echo)
    if result.model_file is not None:
        click.echo(f"model: {result.model_file}")


@cli.command()
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), default=Path("demo_out"), show_default=True
)
@click.option(
    "--checkpoint",
    default="demo",
    show_default=True,
    help="Stage-2 checkpoint; `demo` = the packaged one.",
)
@click.option("--samples", type=SAMPLES, default=3, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for the sampling.")
@click.option(
    "--retrain",
    is_flag=True,
    help="First make a new demo checkpoint from nothing (synthetic corpus, features, both "
    "stages; about 35 min on 2 cores) in --work, then run the demo with it.",
)
@click.option(
    "--work",
    type=click.Path(path_type=Path),
    default=Path("demo_retrain"),
    show_default=True,
    help="--retrain's folder (corpus, features, runs, demo.ckpt); a rerun resumes it.",
)
@click.option("--identities", type=int, default=None, hidden=True)
@click.option("--sentences", type=int, default=None, hidden=True)
@click.option("--max-epochs", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def demo(
    out: Path,
    checkpoint: str,
    samples: int,
    seed: int,
    retrain: bool,
    work: Path,
    identities: int | None,
    sentences: int | None,
    max_epochs: int | None,
    quiet: bool,
) -> None:
    """The main job on embedded defaults: an unseen speaker's emotional speech, animated.

    A synthetic speaker who is in no training corpus says four sentences (happy, sad, angry,
    surprised); the packaged demo model animates the speech on that speaker's built-in face,
    taking emotion from the voice and identity from the face. Writes speech.wav, script.json,
    motion.npz (--samples samples), vertices.npy, animation.mp4 (with sound), motion heatmaps
    and reference.npz (the synthetic speaker's own motion) into OUT.
    """
    from lsf_animation.data.synth.generate import DEFAULT_IDENTITIES, DEFAULT_SENTENCES
    from lsf_animation.demo import run_demo

    if not retrain and (identities or sentences or max_epochs):
        raise LsfError("--identities, --sentences and --max-epochs go with --retrain")
    if retrain:
        if checkpoint != "demo":
            raise LsfError("--retrain makes its own checkpoint; leave out --checkpoint")
        from lsf_animation.train.demo_recipe import retrain_demo

        _quiet_lightning()
        checkpoint = str(
            retrain_demo(
                work,
                identities or DEFAULT_IDENTITIES,
                sentences or DEFAULT_SENTENCES,
                max_epochs,
                progress=not quiet,
                echo=click.echo,
            )
        )
        click.echo(f"new demo checkpoint: {checkpoint}")
    for role, path in run_demo(out, checkpoint, samples, seed, progress=not quiet).items():
        click.echo(f"{role:>13}: {path}")


@cli.command()
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Corpus folder.")
@click.option("--identities", default=24, show_default=True, help="Speakers (>= 3).")
@click.option(
    "--sentences", default=8, show_default=True, help="Sentences per speaker, emotion and level."
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Worker processes, each with its own eSpeak NG.",
)
@click.option(
    "--augment",
    is_flag=True,
    help="Make the training speakers' audio sound recorded: rooms, noise, band limits, codecs, "
    "vocal-tract length, loudness (drawn per clip from the seed; validation and test stay clean).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def synth(
    out: Path, identities: int, sentences: int, seed: int, workers: int, augment: bool, quiet: bool
) -> None:
    """Generate the synthetic emotional talking-face corpus in 3DMEAD's layout under OUT.

    eSpeak NG speaks the sentences for each speaker, emotion (8) and level (3; neutral 1); the
    built-in face moves with the phonemes, the emotion and the speaker's style. Writes
    splits.json with speaker-disjoint train/val/test parts. Resumes an interrupted run.
    """
    from lsf_animation.audio.augment import AugmentConfig
    from lsf_animation.data.synth.generate import generate_corpus

    report = generate_corpus(
        out,
        identities,
        sentences,
        seed,
        workers,
        progress=not quiet,
        augment=AugmentConfig() if augment else None,
    )
    click.echo(report.summary())


def _encoder_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--hubert`, `--emotion2vec`, `--assets`: where the speech encoders are now."""
    for option in reversed(
        [
            click.option(
                "--hubert",
                type=click.Path(path_type=Path),
                help="HuBERT folder (save_pretrained: config.json + weights), replacing the "
                "path stored at training.",
            ),
            click.option(
                "--emotion2vec",
                type=click.Path(path_type=Path),
                help="emotion2vec_base.pt, replacing the path stored at training.",
            ),
            click.option(
                "--assets",
                type=click.Path(path_type=Path),
                help="A folder holding hubert-base-ls960/ and/or emotion2vec_base.pt (instead "
                "of --hubert / --emotion2vec).",
            ),
        ]
    ):
        command = option(command)
    return command


@cli.command("import-checkpoint")
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["lsf-release", "probtalk3d"]),
    help="Which release: LSF-Animation's or ProbTalk3D's (one-hot). Default: what the keys show.",
)
@click.option(
    "--stage", type=click.IntRange(1, 2), help="1 (motion prior) or 2. Default: what the keys show."
)
@click.option(
    "--prior",
    type=click.Path(path_type=Path),
    help="Stage 2: the release's stage-1 checkpoint, checked to match the prior stage 2 holds.",
)
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="The .ckpt to write."
)
def import_checkpoint(
    src: Path, kind: str | None, stage: int | None, prior: Path | None, out: Path
) -> None:
    """Convert the authors' released checkpoint SRC (LSF-Animation or ProbTalk3D, a Lightning
    .ckpt) into a checkpoint of this package. A stage-2 one carries the release's fine-tuned
    HuBERT and emotion2vec: `animate --checkpoint OUT --face generic_model.pkl` needs nothing
    else."""
    from lsf_animation.checkpoint.release_import import import_release

    result = import_release(src, out, kind, stage, prior)
    click.echo(result.summary())


def _transcript_text(value: str | None) -> str | None:
    """--transcript: the text itself, or the contents of the text file it names."""
    if value is None or not Path(value).is_file():
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LsfError(f"cannot read the transcript file {value} ({err}); give UTF-8 text") from err


@cli.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option(
    "--shape",
    "shape_file",
    type=click.Path(path_type=Path),
    help="Shape coefficients (.npy, at most 300 values).",
)
@click.option(
    "--neutral-mesh",
    type=click.Path(path_type=Path),
    help="Neutral mesh (.obj or .npy (V, 3), metres) in the face model's topology.",
)
@click.option(
    "--checkpoint",
    default="demo",
    show_default=True,
    help="Stage-2 checkpoint (model.ckpt), or `demo` for the packaged one.",
)
@click.option("--samples", type=SAMPLES, default=1, show_default=True, help="Motion samples K.")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.2, show_default=True)
@click.option("--seed", type=SEED, default=None, help="Seed for the sampling.")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("animation_out"),
    show_default=True,
    help="Output folder.",
)
@click.option("--no-video", is_flag=True, help="Skip the mp4.")
@click.option(
    "--no-vertices",
    is_flag=True,
    help="Skip vertices.npy (12 bytes per vertex and frame: 2.2 GB for 20 minutes).",
)
@click.option("--obj", is_flag=True, help="Also write an OBJ sequence (OUT/obj).")
@click.option(
    "--gltf",
    is_flag=True,
    help="Also write animation.glb (every sample; glTF 2.0) and a copy of AUDIO beside it, which "
    "`lsf-animation view OUT` plays.",
)
@click.option(
    "--arkit",
    is_flag=True,
    help="Also write ARKit-52 curves of sample 0: arkit.csv (Live Link Face layout), arkit.json.",
)
@click.option(
    "--arkit-targets",
    type=click.Path(path_type=Path),
    help="With --arkit on a FLAME face: its 52 ARKit shapes in FLAME topology (.npz or a folder "
    "of OBJs named eyeBlinkLeft.obj ...).",
)
@click.option(
    "--face",
    default="builtin",
    show_default=True,
    help="`builtin`, or a FLAME model file (.pkl or .npz).",
)
@_encoder_options
@click.option(
    "--transcript",
    help="The words spoken (English), or a UTF-8 text file holding them: the phones are aligned "
    "to them instead of recognized (models whose motion stream is offline-phonetic, as the "
    "demo model's).",
)
@click.option(
    "--recognizer",
    type=click.Choice(["words", "allphone"]),
    help="Without --transcript, for such a model: recognize the words and align them (more exact "
    "phones; the demo model's default) or the phones directly (several times faster). Default: "
    "the checkpoint's setting.",
)
def animate(
    audio: Path,
    shape_file: Path | None,
    neutral_mesh: Path | None,
    checkpoint: str,
    samples: int,
    temperature: float,
    seed: int | None,
    out: Path,
    no_video: bool,
    no_vertices: bool,
    obj: bool,
    gltf: bool,
    arkit: bool,
    arkit_targets: Path | None,
    face: str,
    hubert: Path | None,
    emotion2vec: Path | None,
    assets: Path | None,
    transcript: str | None,
    recognizer: str | None,
) -> None:
    """Animate the speech in AUDIO: writes motion.npz, vertices.npy, heatmaps, animation.mp4
    (and with the options an OBJ sequence, animation.glb, ARKit-52 curves). Memory does not
    grow with the audio's length beyond the motion itself.

    Prints the real-time factor (audio seconds / processing seconds, video excluded).
    """
    import time

    from lsf_animation.api import Animator, ArkitOption, standard_exporters, write_animation
    from lsf_animation.audio.load import Waveform
    from lsf_animation.checkpoint.encoder_paths import EncoderPaths
    from lsf_animation.export.arkit import ArkitExporter
    from lsf_animation.export.base import check_destinations, check_output_dir
    from lsf_animation.face.identity_files import FaceShape, load_neutral_mesh
    from lsf_animation.face.load import load_face_model

    # check every input before computing or writing anything
    if shape_file is not None and neutral_mesh is not None:
        raise LsfError("give --shape or --neutral-mesh, not both")
    if arkit_targets is not None and not arkit:
        raise LsfError("--arkit-targets goes with --arkit")
    arkit_option: ArkitOption = (arkit_targets or True) if arkit else False
    folder = check_output_dir(out)
    outputs = standard_exporters(not no_video, obj, gltf=gltf, arkit=arkit_option, audio=audio,
                                 vertices=not no_vertices)  # fmt: skip
    check_destinations(folder, outputs)
    shape = FaceShape.read(shape_file) if shape_file is not None else None
    mesh = load_neutral_mesh(neutral_mesh) if neutral_mesh is not None else None
    wav = Waveform.read(audio)
    words = _transcript_text(transcript)
    encoders = EncoderPaths.from_options(hubert, emotion2vec, assets)
    face_model = load_face_model(face)
    if arkit:
        ArkitExporter(arkit_targets).check(face_model)
    animator = Animator.from_checkpoint(checkpoint, face=face_model, encoders=encoders)
    started = time.perf_counter()
    animation = animator.animate(
        wav,
        shape,
        mesh,
        samples,
        temperature,
        seed,
        transcript=words,
        recognizer=recognizer,
        progress=True,
    )
    elapsed = time.perf_counter() - started
    files = write_animation(
        animation,
        folder,
        wav.source,
        not no_video,
        obj,
        progress=True,
        gltf=gltf,
        arkit=arkit_option,
        vertices=not no_vertices,
    )
    for role, path in files.items():
        click.echo(f"{role:>12}: {path}")
    click.echo(
        f"real-time factor: {wav.seconds / max(elapsed, 1e-9):.1f}x "
        f"({wav.seconds:.1f} s of audio in {elapsed:.2f} s, video excluded)"
    )


@cli.command()
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    required=True,
    help="Stage-2 checkpoint (OUT/stage2/model.ckpt).",
)
@click.option(
    "--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Corpus root."
)
@click.option(
    "--split",
    "part",
    type=click.Choice(["train", "val", "test"]),
    default="test",
    show_default=True,
    help="Part of the checkpoint's split to evaluate.",
)
@click.option(
    "--samples",
    type=SAMPLES,
    default=10,
    show_default=True,
    help="Samples per clip: even (Diversity pairs them), or 1 (no Diversity).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Same seed, same numbers.")
@click.option("--temperature", type=float, default=0.2, show_default=True)
@click.option(
    "--face",
    default=None,
    help="`builtin` or a FLAME model file. Default: the built-in face for a checkpoint "
    "trained on the synthetic corpus.",
)
@click.option(
    "--shape-mode",
    type=click.Choice(["zero", "subject"]),
    default="zero",
    show_default=True,
    help="zero: zero shape for prediction and ground truth (the paper's release); "
    "subject: the clip's shape.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    help="Feature cache. Default: the one the checkpoint was trained with.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("eval_out"),
    show_default=True,
    help="Folder for table1.md/.csv, table2.md/.csv, metrics.json.",
)
@click.option(
    "--ablations",
    is_flag=True,
    help="Also evaluate the CHECKPOINTS given after it on the same clips and write "
    "a Table 2 comparison (one row per variant).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_encoder_options
@click.argument("ablation_checkpoints", nargs=-1, type=click.Path(path_type=Path))
def evaluate(
    checkpoint: Path,
    data_dir: Path,
    part: str,
    samples: int,
    seed: int,
    temperature: float,
    face: str | None,
    shape_mode: str,
    cache_dir: Path | None,
    out: Path,
    ablations: bool,
    quiet: bool,
    hubert: Path | None,
    emotion2vec: Path | None,
    assets: Path | None,
    ablation_checkpoints: tuple[Path, ...],
) -> None:
    """Evaluate a stage-2 checkpoint on a corpus: the paper's Table 1 (MVE, LVE, FDD, MEE, CE,
    Diversity) overall and per emotion, and with `--ablations C1 C2 ...` a Table 2 of variants.
    Speech features come from the cache: run `lsf-animation extract` first."""
    from lsf_animation.checkpoint.encoder_paths import EncoderPaths
    from lsf_animation.eval.run import EvalSettings, run_evaluation
    from lsf_animation.eval.tables import table1_markdown, table2_markdown, write_tables

    if ablation_checkpoints and not ablations:
        raise LsfError("extra checkpoints given without --ablations: write --ablations C1 C2 ...")
    if ablations and not ablation_checkpoints:
        raise LsfError("--ablations needs the checkpoints to compare: --ablations C1 C2 ...")
    encoders = EncoderPaths.from_options(hubert, emotion2vec, assets)
    settings = EvalSettings(
        data_dir, part, samples, seed, temperature, face, shape_mode, cache_dir, encoders
    )
    results = run_evaluation(
        checkpoint, settings, ablation_checkpoints, progress=not quiet, echo=click.echo
    )
    click.echo(table1_markdown(results[0], settings))
    if len(results) > 1:
        click.echo(table2_markdown(results))
    for role, path in write_tables(results, settings, out).items():
        click.echo(f"{role:>12}: {path}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--audio",
    type=click.Path(path_type=Path),
    help="The speech to play. Default: the file animation.glb names, in FOLDER.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0: any free port.")
def view(folder: Path, audio: Path | None, port: int) -> None:
    """Play FOLDER/animation.glb with its speech in the browser viewer (127.0.0.1 only).

    Prints the page's URL and serves until Ctrl-C. FOLDER is the output of `lsf-animation demo`
    or of `lsf-animation animate ... --gltf`.
    """
    from lsf_animation.web.server import serve

    serve(folder, audio, port, echo=click.echo)


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


def _quiet_lightning() -> None:
    """Silence Lightning's notices that say nothing about a training run (an advert; the frozen
    prior in eval mode, which is intended; a torch-version deprecation inside Lightning)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in log.filters):
        log.addFilter(_DropAdverts())
    for message in (
        r"Found \d+ module\(s\) in eval mode",
        r".*isinstance\(treespec, LeafSpec\)",
        r"The number of training batches .* is smaller than the logging interval",
        r"Checkpoint directory .* exists and is not empty",  # resuming writes into it
    ):
        warnings.filterwarnings("ignore", message=message)


class Terminated(BaseException):
    """SIGTERM arrived (a timeout, `docker stop`, `kill`): raised in the main thread so that the
    run unwinds as on Ctrl-C, every cleanup runs (staging folders, temporary files), and the
    command exits with code 143. A BaseException, so that no `except Exception` swallows it."""


def _sigterm_handler(owner: int) -> Callable[[int, FrameType | None], None]:
    """The CLI's SIGTERM handler for process `owner`: raise `Terminated` once (a second SIGTERM
    does not interrupt the cleanup). In a forked worker process, which inherits it, SIGTERM
    keeps its default action (the pool that terminates its workers expects that)."""
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if not raised:
            raised = True
            raise Terminated()

    return handler


def _plain_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as one plain line on stderr (`warning: ...`), without Python's source line."""
    text = " ".join(str(message).split())
    click.echo(f"warning: {text}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns LsfError into one line on stderr and exit code 2.

    While it runs, SIGTERM unwinds like Ctrl-C (`Terminated`, exit code 143, cleanup done),
    warnings print as one line, and a full disk anywhere is one line and exit code 2.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _sigterm_handler(os.getpid()))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _plain_warning
            return _run(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="lsf-animation", standalone_mode=False)
    except LsfError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    except Terminated:
        click.echo("terminated (SIGTERM); nothing half-written was left behind", err=True)
        return 143
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as err:  # one line too, with where to read more
        where = err.ctx.command_path if err.ctx is not None else "lsf-animation"
        click.echo(f"error: {err.format_message()} (see `{where} --help`)", err=True)
        return err.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # A full disk where no writer of ours named it (logs, third-party writers).
        from lsf_animation.io.atomic import write_error

        target = Path(err.filename) if isinstance(err.filename, str) else Path.cwd()
        click.echo(f"error: {write_error('a file', target, err)}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
