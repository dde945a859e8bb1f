"""Writing evaluation results as the paper's tables (markdown and CSV) and as JSON.

Table 1 (one model: overall, then per emotion) and Table 2 (one row per checkpoint, named by its
variant). Markdown gives each metric in the paper's scaling (metres / square metres times a
power of ten per column, as the paper prints them) and in mm / mm²; CSV gives full-precision
values in both unit systems (`<metric>_m` / `_m2` and `<metric>_mm` / `_mm2`).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsf_animation.errors import LsfError
from lsf_animation.eval.metrics import to_millimetres

if TYPE_CHECKING:
    from lsf_animation.eval.run import EvalResult, EvalSettings

#: (key, label, power of ten the paper scales the column by), in the paper's column order.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mve_m", "MVE", -3),
    ("lve_m2", "LVE", -4),
    ("fdd_m2", "FDD", -6),
    ("fdd_abs_m2", "|FDD|", -6),
    ("mee_m2", "MEE", -4),
    ("ce_m2", "CE", -5),
    ("diversity_m", "Diversity", -3),
)
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _unit(key: str) -> str:
    return "m²" if key.endswith("_m2") else "m"


def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _mm_key(key: str) -> str:
    return key[:-3] + "_mm2" if key.endswith("_m2") else key[:-2] + "_mm"


def _table(header: list[str], rows: list[list[str]]) -> str:
    header = [h.replace("|", "\\|") for h in header]  # |FDD| inside a markdown cell
    rows = [[c.replace("|", "\\|") for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def paper_header() -> list[str]:
    return [f"{label} (×10{str(p).translate(_SUPERSCRIPT)} {_unit(k)})" for k, label, p in COLUMNS]


def mm_header() -> list[str]:
    return [f"{label} ({_unit(k).replace('m', 'mm')})" for k, label, _ in COLUMNS]


def paper_cells(metrics: dict[str, float]) -> list[str]:
    return [_fmt(metrics[k] / 10.0**p) for k, _, p in COLUMNS]


def mm_cells(metrics: dict[str, float]) -> list[str]:
    mm = to_millimetres(metrics)
    return [_fmt(mm[_mm_key(k)]) for k, _, _ in COLUMNS]


def table1_markdown(result: EvalResult, settings: EvalSettings) -> str:
    """Table 1 of one model: the paper's scaling, mm / mm², then the per-emotion breakdown."""
    o = result.overall
    head = (
        f"## Table 1: {result.name} ({result.checkpoint})\n\n"
        f"{o['num_sequences']} sequences, {o['num_frames']} frames ({settings.split_part} part); "
        f"K = {settings.samples} samples, temperature {settings.temperature}, seed "
        f"{settings.seed}, shape mode {settings.shape_mode}."
        f"{' Diversity is n/a with K = 1.' if settings.samples == 1 else ''}\n"
    )
    paper = _table(["Model", *paper_header()], [[result.name, *paper_cells(o)]])
    mm = _table(["Model", *mm_header()], [[result.name, *mm_cells(o)]])
    rows = [[e, str(m["num_sequences"]), *mm_cells(m)] for e, m in result.per_emotion.items()]
    emotions = _table(["Emotion", "Sequences", *mm_header()], rows)
    return (
        f"{head}\nIn the paper's units:\n\n{paper}\n\nIn millimetres:\n\n{mm}\n\n"
        f"### Per emotion\n\n{emotions}\n"
    )


def table2_markdown(results: Sequence[EvalResult]) -> str:
    """Table 2: one row per checkpoint, in the paper's scaling and in mm / mm²."""
    paper = _table(
        ["Variant", *paper_header()], [[r.name, *paper_cells(r.overall)] for r in results]
    )
    mm = _table(["Variant", *mm_header()], [[r.name, *mm_cells(r.overall)] for r in results])
    return f"## Table 2: variants on the same clips\n\n{paper}\n\nIn millimetres:\n\n{mm}\n"


def _finite(value: Any) -> Any:
    """NaN (Diversity with K = 1) as None, so the JSON is strict."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _csv_row(metrics: dict[str, float]) -> dict[str, Any]:
    mm = to_millimetres(metrics)
    row: dict[str, Any] = {"num_sequences": metrics["num_sequences"]}
    row["num_frames"] = metrics["num_frames"]
    for key, _, _ in COLUMNS:
        row[key] = metrics[key]
        row[_mm_key(key)] = mm[_mm_key(key)]
    return row


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_tables(
    results: Sequence[EvalResult], settings: EvalSettings, out_dir: str | Path
) -> dict[str, Path]:
    """Write table1.md/.csv (first result), table2.md/.csv (with more than one) and
    metrics.json into `out_dir`; returns role -> path."""
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LsfError(f"cannot create the output folder {out} ({err.strerror or err})") from err
    first = results[0]
    written = {"table1.md": out / "table1.md", "table1.csv": out / "table1.csv"}
    written["table1.md"].write_text(table1_markdown(first, settings))
    rows = [{"group": "overall", **_csv_row(first.overall)}]
    rows += [{"group": e, **_csv_row(m)} for e, m in first.per_emotion.items()]
    _write_csv(written["table1.csv"], rows)
    if len(results) > 1:
        written["table2.md"] = out / "table2.md"
        written["table2.md"].write_text(table2_markdown(results))
        written["table2.csv"] = out / "table2.csv"
        _write_csv(
            written["table2.csv"],
            [{"variant": r.name, "checkpoint": str(r.checkpoint), **_csv_row(r.overall)}
             for r in results],
        )  # fmt: skip
    written["metrics.json"] = out / "metrics.json"
    payload = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "results": [
            {"name": r.name, "checkpoint": str(r.checkpoint), "overall": r.overall,
             "per_emotion": r.per_emotion}
            for r in results
        ],
    }  # fmt: skip
    text = json.dumps(_finite(payload), indent=2, default=str, allow_nan=False)
    written["metrics.json"].write_text(text + "\n")
    return written
