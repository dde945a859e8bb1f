"""Shared by the benchmark scripts: time calls, print a markdown table and record it in
BENCHMARKS.md.

Each script owns one section of BENCHMARKS.md, delimited by HTML comments, and replaces only
that section when it runs, so scripts can be re-run independently.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import torch

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is written by the script it names; re-run it to refresh.\n"


def call_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of each of `repeats` calls of `fn`, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows of cells -> a markdown table (cells formatted with str())."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    """One line naming the machine the numbers were measured on."""
    return (
        f"Measured {date.today().isoformat()} on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads."
    )


def record(section: str, script: str, body: str) -> None:
    """Print `body` and write it as section `section` of BENCHMARKS.md, replacing the old one.

    Args:
        section: section title, also its key.
        script: the script that produced it, e.g. "benchmarks/render_speed.py".
        body: markdown (tables and notes).
    """
    text = f"## {section}\n\n`python {script}` — {machine_line()}\n\n{body.strip()}\n"
    print(text)
    start, end = f"<!-- {section}: start -->", f"<!-- {section}: end -->"
    old = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    block = f"{start}\n{text}{end}"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    tmp = BENCHMARKS_MD.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(BENCHMARKS_MD)
