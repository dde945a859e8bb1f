"""Run lsf-animation commands against a small disk: `python small_disk_runner.py MOUNT SIZE --
CMD... [-- CMD...]`, inside `unshare -rm` (a private user and mount namespace, so no root is
needed and the mount is gone afterwards). Mounts a tmpfs of SIZE on MOUNT, runs each command
(`@remount SIZE` changes the size in between), and prints one JSON list of [exit code, stdout,
stderr, {path: bytes} of every file and folder left on the tmpfs, [checkpoints left there that
do not load]] per command.
Used by tests/test_kill_and_disk_full.py and tests/train/test_resume.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _left(mount: Path) -> dict[str, int]:
    return {
        str(p.relative_to(mount)): (p.stat().st_size if p.is_file() else -1)
        for p in sorted(mount.rglob("*"))
    }


def _broken_checkpoints(mount: Path) -> list[str]:
    import torch

    broken = []
    for path in sorted(mount.rglob("*.ckpt")):
        try:
            torch.load(path, weights_only=True)
        except Exception:
            broken.append(str(path.relative_to(mount)))
    return broken


def main() -> None:
    mount, size, rest = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    commands: list[list[str]] = []
    for arg in rest:
        if arg == "--":
            commands.append([])
        else:
            commands[-1].append(arg)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    results = []
    for cmd in commands:
        if cmd[0] == "@remount":
            opts = f"remount,size={cmd[1]}"
            subprocess.run(["mount", "-o", opts, str(mount)], check=True)
            continue
        done = subprocess.run(
            [sys.executable, "-m", "lsf_animation.cli", *cmd], capture_output=True, text=True
        )
        results.append(
            [done.returncode, done.stdout, done.stderr, _left(mount), _broken_checkpoints(mount)]
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
