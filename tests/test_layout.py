"""The package's folder rules (README, Development): which parts may import which.

Data flows one way (audio/face -> model -> checkpoint -> inference/api -> export/render), and
training sits beside it: nothing that serves inference imports the training code or Lightning.
The rules are checked on every import statement of every module, function-local ones included,
and by importing the inference and metric entry points in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lsf_animation"

#: part -> what it must not import (parts of lsf_animation, or outside packages).
FORBIDDEN: dict[str, set[str]] = {
    "constants": {"*"},
    "errors": {"*"},
    "io": {"*"},  # "*": nothing of lsf_animation but errors
    "audio": {"face", "model", "data", "train", "eval", "render", "export", "checkpoint",
              "inference", "api", "cli", "demo", "lightning"},
    "face": {"audio", "model", "data", "train", "eval", "render", "export", "checkpoint",
             "inference", "api", "cli", "demo", "lightning"},
    "model": {"audio", "face", "data", "train", "eval", "render", "export", "checkpoint",
              "inference", "api", "cli", "demo", "lightning"},
    "data": {"model", "train", "eval", "export", "checkpoint", "inference", "api", "cli",
             "demo", "lightning"},
    "checkpoint": {"train", "eval", "render", "export", "inference", "api", "cli", "demo",
                   "lightning"},
    "inference": {"train", "eval", "render", "export", "api", "cli", "demo", "lightning"},
    "eval": {"train", "render", "export", "api", "cli", "demo", "lightning"},
    "render": {"audio", "model", "data", "train", "eval", "export", "checkpoint", "inference",
               "api", "cli", "demo", "lightning"},
    "export": {"audio", "model", "data", "train", "eval", "checkpoint", "inference", "api",
               "cli", "demo", "lightning"},
    "train": {"eval", "render", "export", "inference", "api", "cli", "demo"},
    "api": {"train", "cli", "demo", "lightning"},
    "demo": {"train", "cli", "lightning"},
}  # fmt: skip


def _part(module: Path) -> str:
    rel = module.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported name) of every import in a module, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


def _target(name: str) -> str | None:
    """The part of lsf_animation (or the outside package) an import names."""
    head, _, rest = name.partition(".")
    if head != "lsf_animation":
        return head
    return rest.partition(".")[0] or None


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = _part(path)
        forbidden = FORBIDDEN.get(part, set())
        for line, name in _imports(path):
            target = _target(name)
            if target is None or target == part:
                continue
            is_ours = name.startswith("lsf_animation.")
            if target in forbidden or ("*" in forbidden and is_ours and target != "errors"):
                problems.append(f"{path.relative_to(PACKAGE)}:{line} ({part}) imports {name}")
            if target == "cli" and part != "__main__":
                problems.append(f"{path.relative_to(PACKAGE)}:{line} imports the CLI")
    return problems


def test_every_folder_keeps_to_its_import_rules() -> None:
    assert _violations() == []


def test_the_rule_check_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "lsf_animation"
    (fake / "model").mkdir(parents=True)
    (fake / "model" / "bad.py").write_text("def f():\n    import lightning\n")
    (fake / "io").mkdir()
    (fake / "io" / "bad.py").write_text("from lsf_animation.face import flame\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert _violations() == [
        "io/bad.py:1 (io) imports lsf_animation.face",
        "model/bad.py:2 (model) imports lightning",
    ]


@pytest.mark.parametrize(
    "module", ["lsf_animation.api", "lsf_animation.eval.metrics", "lsf_animation.eval.run"]
)
def test_inference_and_metrics_import_without_lightning_or_training(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', "
        "'pytorch_lightning') or m.startswith('lsf_animation.train'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
