"""The viewer's shipped files: three.js unmodified at the pinned version with its licence, and a
page that needs nothing from the network."""

from __future__ import annotations

import hashlib
import json
import re

from lsf_animation.web.server import STATIC_DIR
from node_tools import REPO, node_package

VENDOR = STATIC_DIR / "vendor" / "three"


def _manifest() -> tuple[str, dict[str, str]]:
    first, *rows = (VENDOR / "MANIFEST.txt").read_text().splitlines()
    return first, {name: digest for digest, name in (row.split() for row in rows)}


def test_shipped_three_js_matches_its_manifest_and_the_pinned_version():
    first, digests = _manifest()
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["three"]
    assert first.startswith(f"three {pinned} ")
    for name, digest in digests.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    shipped = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert shipped == set(digests) | {"MANIFEST.txt"}
    assert "The MIT License" in (VENDOR / "LICENSE").read_text()


def test_shipped_three_js_is_byte_identical_to_the_npm_package():
    """Unmodified: each shipped file equals the one `npm ci` installed from the registry (whose
    tarball npm checked against package-lock.json's integrity hash)."""
    installed = node_package("three")
    _, digests = _manifest()
    version = json.loads((installed / "package.json").read_text())["version"]
    assert _manifest()[0].startswith(f"three {version} ")
    for name in digests:
        assert (VENDOR / name).read_bytes() == (installed / name).read_bytes(), name


def test_page_loads_nothing_from_the_network_and_its_imports_exist():
    page = (STATIC_DIR / "index.html").read_text()
    for own in ("index.html", "viewer.js", "viewer.css"):
        text = (STATIC_DIR / own).read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), own
        assert "https://" not in text and "http://" not in text, own
    imports = json.loads(re.search(r"<script type=\"importmap\">(.*?)</script>", page, re.S)[1])
    for target in imports["imports"].values():
        assert (STATIC_DIR.parent / target).exists(), target
    # Every relative import inside the shipped three.js files resolves to a shipped file.
    for js in VENDOR.rglob("*.js"):
        for spec in re.findall(r"from\s*['\"](\.[^'\"]+)['\"]", js.read_text()):
            assert (js.parent / spec).resolve().is_file(), (js.name, spec)
