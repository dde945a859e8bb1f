"""Node.js and Chromium for the tests that need them (glTF validation, the browser viewer).

The JavaScript packages are pinned in the repository's package.json / package-lock.json and
installed by `npm ci` (part of the README's test command). Tests skip, saying why, only when node
or chromium is not installed; with node present but the packages missing they fail and say to run
`npm ci`, so a broken install is never mistaken for a pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def node() -> str:
    """Path of `node`; skips the test when it is not installed."""
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed (needed for the JavaScript-side checks)")
    return path


def node_package(name: str) -> Path:
    """Folder of an npm package from package.json; fails (not skips) when `npm ci` was not run."""
    node()
    folder = NODE_MODULES / name
    if not (folder / "package.json").is_file():
        pytest.fail(f"node_modules/{name} is missing: run `npm ci` in {REPO} (README test command)")
    return folder


def chromium() -> str:
    """Path of Debian's chromium; skips the test when it is not installed."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.skip("chromium is not installed (apt-get install chromium) for the browser tests")


def run_node(script: str, *args: str, timeout: float = 120.0) -> dict:
    """Run a node script (source text) with `args`; it must print one JSON object last."""
    result = subprocess.run(
        [node(), "-e", script, "--", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"node failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


VALIDATE_JS = """
const validator = require('gltf-validator');
const fs = require('fs');
const path = process.argv[process.argv.length - 1];
validator.validateBytes(new Uint8Array(fs.readFileSync(path)), {maxIssues: 0})
  .then((report) => {
    const issues = report.issues;
    const messages = issues.messages.slice(0, 20)
      .map((m) => `${m.code}: ${m.message} ${m.pointer}`);
    console.log(JSON.stringify({
      errors: issues.numErrors, warnings: issues.numWarnings, infos: issues.numInfos,
      hints: issues.numHints, messages, validator: report.validatorVersion,
    }));
  })
  .catch((err) => { console.error(err); process.exit(1); });
"""


def validate_gltf(path: Path) -> dict:
    """The Khronos glTF-Validator's counts for a .glb: errors, warnings, infos, hints, messages."""
    node_package("gltf-validator")
    return run_node(VALIDATE_JS, str(path))
