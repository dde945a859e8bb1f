"""The README's pictures of the viewer and the ARKit targets (docs/viewer.png,
docs/arkit_targets.png).

Runs the demo into a temporary folder, writes its animation.glb, serves it with the viewer's
server and screenshots the page in headless chromium (playwright-core from `npm ci`); draws a
dozen of the built-in face's ARKit targets with the CPU renderer.
Run: .venv/bin/python scripts/make_viewer_images.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lsf_animation.demo import run_demo
from lsf_animation.face.builtin import builtin_face
from lsf_animation.face.builtin_arkit import builtin_arkit_targets
from lsf_animation.render.camera import Camera
from lsf_animation.render.renderer import MeshRenderer
from lsf_animation.web.server import ViewerServer

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
SHOWN = (
    {"jawOpen": 0.6},
    {"jawOpen": 0.6, "mouthClose": 0.6},
    {"mouthSmileLeft": 1.0},
    {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
    {"mouthFrownLeft": 1.0, "mouthFrownRight": 1.0},
    {"mouthPucker": 1.0},
    {"mouthFunnel": 1.0},
    {"mouthPressLeft": 1.0, "mouthPressRight": 1.0},
    {"eyeBlinkLeft": 1.0},
    {"browInnerUp": 1.0},
    {"browDownLeft": 1.0, "browDownRight": 1.0},
    {"jawOpen": 0.6, "tongueOut": 1.0},
)
SHOT_JS = """
const { chromium } = require('playwright-core');
const [url, out, profile] = process.argv.slice(-3);
(async () => {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 900, height: 760 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  await page.goto(url);
  await page.evaluate(() => window.lsfViewer.ready);
  await page.evaluate(() => { window.lsfViewer.seek(1.36); window.lsfViewer.renderNow(); });
  await page.check('#show-heatmaps');
  await page.waitForTimeout(300);
  await page.screenshot({ path: out, fullPage: true });
  await context.close();
  console.log(JSON.stringify({ ok: true }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def targets_sheet(path: Path) -> None:
    face = builtin_face()
    targets = builtin_arkit_targets()
    base = face.v_template
    camera = Camera.framing(base[face.regions["face"]], 220, 220, margin=1.02)
    renderer = MeshRenderer(face.faces, face.vertex_colors, camera, 220, 220, supersample=2)
    tiles = []
    for weights in SHOWN:
        verts = base + sum(w * targets.delta(name) for name, w in weights.items())
        tile = Image.fromarray(renderer.render(verts))
        label = " + ".join(f"{n} {w:g}" if w != 1 else n for n, w in weights.items())
        ImageDraw.Draw(tile).text((5, 4), label, fill=(255, 230, 120))
        tiles.append(tile)
    sheet = Image.new("RGB", (6 * 220, 2 * 220))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % 6) * 220, (i // 6) * 220))
    sheet.save(path, optimize=True)


def viewer_shot(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo_out"
        run_demo(out, progress=False)  # writes animation.glb beside speech.wav
        with ViewerServer(out) as server:
            result = subprocess.run(
                ["node", "-e", SHOT_JS, "--", server.url, str(path), str(Path(tmp) / "profile")],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
            )
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        assert json.loads(result.stdout.strip().splitlines()[-1])["ok"]
    image = Image.open(path).convert("RGB")
    image.save(path, optimize=True)


def main() -> None:
    if shutil.which("node") is None:
        raise SystemExit("node is needed (and `npm ci`, and chromium)")
    targets_sheet(DOCS / "arkit_targets.png")
    viewer_shot(DOCS / "viewer.png")
    print(
        np.round(
            [p.stat().st_size / 1e3 for p in (DOCS / "arkit_targets.png", DOCS / "viewer.png")]
        )
    )


if __name__ == "__main__":
    main()
