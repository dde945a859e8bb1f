"""Find the clips of a 3DMEAD corpus on disk and check them.

Layouts (see `data.clips` for the file contents):

- "mead": motion under `<motion root>/<SUBJ>/front/<emotion>/level_<k>/<NNN>/shape_pose_cam.hdf5`,
  audio under `<audio root>/<SUBJ>/audio/<emotion>/level_<k>/<NNN>.<ext>` (MEAD's tree). The
  motion root is `<root>/EMICA-MEAD_flame2020` when it exists, else `<root>` itself; the audio root
  is the `audio_root` argument, else `<root>/MEAD`, else `<root>` when its speaker folders hold
  `audio/`. When several audio files exist for a clip, the first of `AUDIO_SUFFIXES` wins.
- "probtalk3d": `<root>/param/<SUBJ>_<NNN>_<emotion>_<level>.npy` with audio
  `<audio root>/<same stem>.wav`, audio root = `audio_root` or `<root>/wav`. In the key, the
  emotion is a MEAD name ("angry") or a code ("6"); the level is either `level_k` (1-based, as in
  MEAD's folders) or a bare number, which is 0-based as ProbTalk3D's preprocessing writes it
  (`M003_001_6_1.npy` = angry, level_2).

Problems are collected, never silently dropped: missing audio, motion files that are missing or
unreadable, audio that cannot be read, paths that do not parse, audio without motion, and length
mismatches (audio duration × 25 fps vs motion frames differing by more than
`max(max_frame_diff, max_relative_diff × frames)`, default 2 frames and 4 %). `Corpus.clips` holds
only the clean clips; a problem keeps its `Clip` when one could be built, so a caller can still
choose to use it. Durations come from the audio headers (no decoding) and frame counts from the
motion headers, so a scan costs a few file opens per clip. One module for one concept (finding
and checking a corpus's clips, in both layouts), hence its length.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from lsf_animation.constants import FPS
from lsf_animation.data.clips import (
    Clip,
    Layout,
    audio_duration,
    clip_key,
    motion_num_frames,
)
from lsf_animation.data.emotions import EMOTIONS, NUM_LEVELS, emotion_code
from lsf_animation.errors import LsfError

MOTION_DIR = "EMICA-MEAD_flame2020"
AUDIO_DIR = "MEAD"
MOTION_FILE = "shape_pose_cam.hdf5"
AUDIO_SUFFIXES = (".wav", ".m4a", ".flac", ".mp3", ".ogg")
MAX_EXAMPLES = 5

PROBLEM_KINDS = {
    "missing_audio": "missing audio",
    "unreadable_audio": "unreadable audio",
    "missing_motion": "missing motion",
    "unreadable_motion": "unreadable motion",
    "length_mismatch": "audio/motion length mismatch",
    "bad_path": "unparsable path",
}


@dataclass(frozen=True)
class Problem:
    """A clip that is not used by default.

    Attributes:
        key: the clip key ("M003/angry/level_2/001") or, when the path did not parse, the path.
        reason: what is wrong, with the file(s) involved.
        kind: one of `PROBLEM_KINDS`.
        clip: the clip when it could be built (e.g. a length mismatch), else None.
    """

    key: str
    reason: str
    kind: str = "other"
    clip: Clip | None = None


@dataclass
class Corpus:
    """The result of `scan_corpus`.

    Attributes:
        clips: clips without problems, sorted by key.
        problems: everything that was found but is not in `clips`.
        root: the corpus root given; motion_root, audio_root: where each was found.
        layout: "mead" or "probtalk3d".
    """

    clips: list[Clip]
    problems: list[Problem] = field(default_factory=list)
    root: Path | None = None
    layout: Layout = "mead"
    motion_root: Path | None = None
    audio_root: Path | None = None

    def subjects(self) -> list[str]:
        """Sorted speaker ids of the clean clips."""
        return sorted({c.subject for c in self.clips})

    def report(self, max_examples: int = MAX_EXAMPLES) -> str:
        """Text summary: clip and speaker counts, then per problem kind its count and up to
        `max_examples` examples."""
        lines = [
            f"{self.layout} corpus at {self.root}: {len(self.clips)} clips from "
            f"{len(self.subjects())} speakers, {len(self.problems)} with problems"
        ]
        by_kind: dict[str, list[Problem]] = {}
        for p in self.problems:
            by_kind.setdefault(p.kind, []).append(p)
        for kind, items in by_kind.items():
            lines.append(f"  {PROBLEM_KINDS.get(kind, kind)}: {len(items)}")
            lines += [f"    {p.key}: {p.reason}" for p in items[:max_examples]]
            if len(items) > max_examples:
                lines.append(f"    ... and {len(items) - max_examples} more")
        return "\n".join(lines)


def _subdirs(path: Path) -> Iterator[Path]:
    """Non-hidden subdirectories, sorted by name."""
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        if not e.name.startswith(".") and e.is_dir():
            yield Path(e.path)


_LEVEL_DIR = re.compile(r"level_(\d+)")


def _parse_level_dir(name: str) -> int | None:
    m = _LEVEL_DIR.fullmatch(name)
    if m and 1 <= int(m.group(1)) <= NUM_LEVELS:
        return int(m.group(1))
    return None


@dataclass
class _Candidate:
    key: str
    subject: str
    emotion: int
    level: int
    sentence: int
    motion_path: Path
    audio_path: Path | None
    audio_tried: str


def _find_audio(stem: Path) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        p = stem.with_name(stem.name + suffix)
        if p.is_file():
            return p
    return None


def _scan_mead(motion_root: Path, audio_root: Path) -> tuple[list[_Candidate], list[Problem]]:
    cands: list[_Candidate] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for subj in _subdirs(motion_root):
        front = subj / "front"
        if not front.is_dir():
            continue
        for emo_dir in _subdirs(front):
            if emo_dir.name not in EMOTIONS:
                problems.append(
                    Problem(str(emo_dir), f"unknown emotion folder {emo_dir.name!r}", "bad_path")
                )
                continue
            emotion = EMOTIONS.index(emo_dir.name)
            for level_dir in _subdirs(emo_dir):
                level = _parse_level_dir(level_dir.name)
                if level is None:
                    problems.append(
                        Problem(
                            str(level_dir),
                            f"folder {level_dir.name!r} is not level_1..level_{NUM_LEVELS}",
                            "bad_path",
                        )
                    )
                    continue
                for sent_dir in _subdirs(level_dir):
                    if not sent_dir.name.isdigit() or int(sent_dir.name) < 1:
                        problems.append(
                            Problem(
                                str(sent_dir),
                                f"sentence folder {sent_dir.name!r} is not a number",
                                "bad_path",
                            )
                        )
                        continue
                    sentence = int(sent_dir.name)
                    key = clip_key(subj.name, emotion, level, sentence)
                    seen.add(key)
                    motion = sent_dir / MOTION_FILE
                    if not motion.is_file():
                        problems.append(
                            Problem(key, f"no {MOTION_FILE} in {sent_dir}", "missing_motion")
                        )
                        continue
                    stem = (
                        audio_root / subj.name / "audio" / emo_dir.name / level_dir.name
                        / sent_dir.name
                    )  # fmt: skip
                    cands.append(
                        _Candidate(
                            key,
                            subj.name,
                            emotion,
                            level,
                            sentence,
                            motion,
                            _find_audio(stem),
                            f"{stem}.{{{','.join(s[1:] for s in AUDIO_SUFFIXES)}}}",
                        )
                    )
    # Audio without a reconstruction.
    for subj in _subdirs(audio_root):
        audio = subj / "audio"
        if not audio.is_dir():
            continue
        for emo_dir in _subdirs(audio):
            if emo_dir.name not in EMOTIONS:
                continue
            for level_dir in _subdirs(emo_dir):
                level = _parse_level_dir(level_dir.name)
                if level is None:
                    continue
                for f in sorted(level_dir.iterdir()):
                    if f.suffix.lower() not in AUDIO_SUFFIXES or not f.stem.isdigit():
                        continue
                    key = clip_key(subj.name, EMOTIONS.index(emo_dir.name), level, int(f.stem))
                    if key not in seen:
                        seen.add(key)
                        problems.append(
                            Problem(key, f"audio {f} has no motion file", "missing_motion")
                        )
    return cands, problems


_PROBTALK3D_STEM = re.compile(
    r"(?P<subject>[^_]+)_(?P<sentence>\d+)_(?P<emotion>[A-Za-z]+|\d+)_(?P<level>level_\d+|\d+)"
)


def parse_probtalk3d_stem(stem: str) -> tuple[str, int, int, int]:
    """ "M003_001_6_1" or "M003_001_angry_level_2" -> ("M003", emotion 6, level 2, sentence 1).

    A bare numeric level is 0-based (ProbTalk3D's preprocessing); `level_k` is 1-based.

    Raises:
        LsfError: the stem does not parse or a label is out of range.
    """
    m = _PROBTALK3D_STEM.fullmatch(stem)
    if not m:
        raise LsfError(
            f"{stem!r} is not <SUBJ>_<NNN>_<emotion>_<level> (e.g. M003_001_6_1 or "
            "M003_001_angry_level_2)"
        )
    emotion = emotion_code(m["emotion"])
    raw = m["level"]
    level = int(raw[len("level_") :]) if raw.startswith("level_") else int(raw) + 1
    if not 1 <= level <= NUM_LEVELS:
        raise LsfError(
            f"{stem!r}: level {raw!r} out of range (bare numbers are 0-based: 0..{NUM_LEVELS - 1}; "
            f"or level_1..level_{NUM_LEVELS})"
        )
    sentence = int(m["sentence"])
    if sentence < 1:
        raise LsfError(f"{stem!r}: sentence numbers start at 1")
    return m["subject"], emotion, level, sentence


def _scan_probtalk3d(param: Path, audio_root: Path) -> tuple[list[_Candidate], list[Problem]]:
    cands: list[_Candidate] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for f in sorted(param.glob("*.npy")):
        if f.name.startswith("."):
            continue
        try:
            subject, emotion, level, sentence = parse_probtalk3d_stem(f.stem)
        except LsfError as err:
            problems.append(Problem(str(f), str(err), "bad_path"))
            continue
        key = clip_key(subject, emotion, level, sentence)
        if key in seen:
            problems.append(Problem(key, f"{f} duplicates another file of this clip", "bad_path"))
            continue
        seen.add(key)
        stem = audio_root / f.stem
        cands.append(
            _Candidate(
                key,
                subject,
                emotion,
                level,
                sentence,
                f,
                _find_audio(stem),
                f"{stem}.{{{','.join(s[1:] for s in AUDIO_SUFFIXES)}}}",
            )
        )
    for f in sorted(audio_root.iterdir()):
        if f.suffix.lower() not in AUDIO_SUFFIXES or f.name.startswith("."):
            continue
        try:
            key = clip_key(*parse_probtalk3d_stem(f.stem))
        except LsfError:
            continue
        if key not in seen:
            seen.add(key)
            problems.append(Problem(key, f"audio {f} has no motion file", "missing_motion"))
    return cands, problems


def _check(
    cand: _Candidate,
    layout: Layout,
    check_lengths: bool,
    max_frame_diff: float,
    max_relative_diff: float,
) -> Clip | Problem:
    if cand.audio_path is None:
        return Problem(cand.key, f"no audio file {cand.audio_tried}", "missing_audio")
    try:
        frames = motion_num_frames(cand.motion_path, layout)
    except LsfError as err:
        return Problem(cand.key, str(err), "unreadable_motion")
    clip = Clip(
        key=cand.key,
        subject=cand.subject,
        emotion=cand.emotion,
        level=cand.level,
        sentence=cand.sentence,
        audio_path=cand.audio_path,
        motion_path=cand.motion_path,
        layout=layout,
        num_frames=frames,
    )
    if frames == 0:
        return Problem(
            cand.key, f"motion file {cand.motion_path} has no frames", "unreadable_motion"
        )
    if not check_lengths:
        return clip
    try:
        seconds = audio_duration(cand.audio_path)
    except LsfError as err:
        return Problem(cand.key, str(err), "unreadable_audio", clip)
    clip = replace(clip, audio_seconds=seconds)
    audio_frames = seconds * FPS
    if abs(audio_frames - frames) > max(max_frame_diff, max_relative_diff * frames):
        return Problem(
            cand.key,
            f"audio {cand.audio_path.name} lasts {seconds:.2f} s = {audio_frames:.1f} frames at "
            f"{FPS:g} fps, motion has {frames} frames",
            "length_mismatch",
            clip,
        )
    return clip


def resolve_layout(
    root: str | Path, layout: str = "auto", audio_root: str | Path | None = None
) -> tuple[Layout, Path, Path]:
    """(layout, motion root, audio root) of a corpus; see the module docstring.

    Raises:
        LsfError: the root is missing, the layout cannot be recognized or its audio is not found.
    """
    r = Path(root).expanduser()
    if not r.is_dir():
        raise LsfError(f"corpus directory {r} does not exist; check --data")
    if layout not in ("auto", "mead", "probtalk3d"):
        raise LsfError(f"unknown corpus layout {layout!r}; choose auto, mead or probtalk3d")
    if layout == "auto":
        if (r / "param").is_dir():
            layout = "probtalk3d"
        elif (r / MOTION_DIR).is_dir() or any((s / "front").is_dir() for s in _subdirs(r)):
            layout = "mead"
        else:
            raise LsfError(
                f"{r} is not a 3DMEAD corpus: expected {MOTION_DIR}/<SUBJ>/front/... (EMICA "
                "reconstructions, with MEAD/<SUBJ>/audio/...), <SUBJ>/front/... directly, or "
                "ProbTalk3D's param/ and wav/ folders"
            )
    if layout == "probtalk3d":
        motion_root = r / "param"
        audio = Path(audio_root).expanduser() if audio_root is not None else r / "wav"
        if not motion_root.is_dir():
            raise LsfError(f"ProbTalk3D layout: {motion_root} does not exist")
        if not audio.is_dir():
            raise LsfError(
                f"ProbTalk3D layout: audio folder {audio} does not exist; put the wavs in "
                f"{r / 'wav'} or give the audio root"
            )
        return "probtalk3d", motion_root, audio
    motion_root = r / MOTION_DIR if (r / MOTION_DIR).is_dir() else r
    if audio_root is not None:
        audio = Path(audio_root).expanduser()
        if not audio.is_dir():
            raise LsfError(f"MEAD audio root {audio} does not exist; check the audio path")
    elif (r / AUDIO_DIR).is_dir():
        audio = r / AUDIO_DIR
    elif any((s / "audio").is_dir() for s in _subdirs(r)):
        audio = r
    else:
        raise LsfError(
            f"no MEAD audio found for {r}: expected {r / AUDIO_DIR}/<SUBJ>/audio/<emotion>/"
            "level_<k>/<NNN>.m4a; give the MEAD root as the audio root"
        )
    return "mead", motion_root, audio


def scan_corpus(
    root: str | Path,
    layout: str = "auto",
    audio_root: str | Path | None = None,
    check_lengths: bool = True,
    max_frame_diff: float = 2.0,
    max_relative_diff: float = 0.04,
    workers: int = 1,
) -> Corpus:
    """Find every clip under `root` and check it.

    Args:
        root: corpus root (see the module docstring for what it may contain).
        layout: "auto", "mead" or "probtalk3d".
        audio_root: where the audio is when not inside `root`.
        check_lengths: read audio durations and compare them with the motion frame counts.
        max_frame_diff, max_relative_diff: a clip is a length mismatch when |audio s × 25 -
            frames| exceeds both.
        workers: threads for the per-clip header reads; on a local disk one is as fast (about
            1 ms per clip, measured), on a network file system more hide the latency.

    Returns:
        The clean clips and the problems (see `Corpus`).

    Raises:
        LsfError: the root is not a corpus, or nothing at all was found in it.
    """
    kind, motion_root, audio = resolve_layout(root, layout, audio_root)
    if kind == "mead":
        cands, problems = _scan_mead(motion_root, audio)
    else:
        cands, problems = _scan_probtalk3d(motion_root, audio)
    if not cands and not problems:
        raise LsfError(f"no clips found in {motion_root} ({kind} layout); check the corpus path")

    def check(c: _Candidate) -> Clip | Problem:
        return _check(c, kind, check_lengths, max_frame_diff, max_relative_diff)

    if workers > 1 and len(cands) > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(check, cands))
    else:
        results = [check(c) for c in cands]
    clips = [r for r in results if isinstance(r, Clip)]
    problems += [r for r in results if isinstance(r, Problem)]
    problems.sort(key=lambda p: p.key)
    return Corpus(
        clips=sorted(clips, key=lambda c: c.key),
        problems=problems,
        root=Path(root).expanduser(),
        layout=kind,
        motion_root=motion_root,
        audio_root=audio,
    )
