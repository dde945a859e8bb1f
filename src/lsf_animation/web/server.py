"""The viewer's local HTTP server: the static page and one output folder, on the loopback only.

`ViewerServer(out_dir).start()` serves, on 127.0.0.1 (or ::1) and a free port by default:

- `/` and `/static/...`: the page (`web/static/`, with the shipped three.js build), read-only;
- `/api/manifest.json`: what the page plays: the .glb, its audio, the heatmap PNGs;
- `/files/<name>`: those files only (no other file of the folder, no path outside it).

Nothing is fetched from the network: the page and three.js are package data. `serve()` is what
`lsf-animation view OUT_DIR` runs: it prints the URL and serves until interrupted.
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lsf_animation.errors import LsfError

STATIC_DIR = Path(__file__).resolve().parent / "static"
GLB_NAME = "animation.glb"
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".flac", ".aac", ".opus")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".glb": "model/gltf-binary",
    ".png": "image/png",
    ".wav": "audio/wav",
    ".txt": "text/plain; charset=utf-8",
}


def glb_extras(path: Path) -> dict[str, Any]:
    """The `extras` of a .glb's default scene ({} when it has none)."""
    with path.open("rb") as fh:
        header = fh.read(20)
        if len(header) < 20:
            raise LsfError(f"{path} is not a glTF binary file (too short)")
        magic, _version, _length, json_length, chunk_type = struct.unpack("<IIIII", header)
        if magic != 0x46546C67 or chunk_type != 0x4E4F534A:
            raise LsfError(f"{path} is not a glTF binary (.glb) file")
        try:
            doc = json.loads(fh.read(json_length))
        except (ValueError, UnicodeDecodeError) as err:
            raise LsfError(f"{path}: unreadable glTF JSON chunk ({err})") from err
    scenes = doc.get("scenes") or [{}]
    extras = scenes[doc.get("scene", 0)].get("extras", {})
    return extras if isinstance(extras, dict) else {}


@dataclass(frozen=True)
class Manifest:
    """What the page plays from an output folder.

    Attributes:
        folder: the output folder.
        glb: the animation file (animation.glb, or the folder's only .glb).
        audio: the audio played with it, or None.
        heatmaps: heatmap PNGs (heatmap_*.png), sorted by name.
    """

    folder: Path
    glb: Path
    audio: Path | None
    heatmaps: tuple[Path, ...]

    @classmethod
    def of(cls, folder: str | Path, audio: str | Path | None = None) -> Manifest:
        """Find the files in `folder`; `audio` overrides the audio named in the .glb's extras
        (looked for in the folder)."""
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise LsfError(f"{folder} is not a folder; give the output folder of animate/demo")
        glb = folder / GLB_NAME
        if not glb.is_file():
            found = sorted(folder.glob("*.glb"))
            if len(found) != 1:
                hint = f"found {', '.join(p.name for p in found)}" if found else "found none"
                raise LsfError(
                    f"{folder} needs {GLB_NAME} (or exactly one .glb; {hint}); write it with "
                    "`lsf-animation animate ... --gltf`"
                )
            glb = found[0]
        sound: Path | None = None
        if audio is not None:
            sound = Path(audio).expanduser().resolve()
            if not sound.is_file():
                raise LsfError(f"audio file not found: {sound}")
        else:
            name = glb_extras(glb).get("audio")
            if isinstance(name, str) and (folder / Path(name).name).is_file():
                sound = folder / Path(name).name
        heatmaps = tuple(sorted(folder.glob("heatmap_*.png")))
        return cls(folder, glb, sound, heatmaps)

    def files(self) -> dict[str, Path]:
        """URL name -> file, for everything the page may fetch from /files/."""
        out = {self.glb.name: self.glb}
        out.update({p.name: p for p in self.heatmaps})
        if self.audio is not None:
            out[f"audio{self.audio.suffix.lower()}"] = self.audio
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.folder.name,
            "glb": f"files/{self.glb.name}",
            "audio": None if self.audio is None else f"files/audio{self.audio.suffix.lower()}",
            "audio_name": None if self.audio is None else self.audio.name,
            "heatmaps": [
                {"name": p.stem.removeprefix("heatmap_"), "url": f"files/{p.name}"}
                for p in self.heatmaps
            ],
        }


def _handler(manifest: Manifest) -> type[BaseHTTPRequestHandler]:
    files = manifest.files()
    static_root = STATIC_DIR.resolve()

    class Handler(BaseHTTPRequestHandler):
        server_version = "lsf-animation-viewer"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the command prints its URL and nothing per request

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _file(self, path: Path) -> None:
            kind = _TYPES.get(path.suffix.lower()) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            self._send(HTTPStatus.OK, path.read_bytes(), kind)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            route = unquote(urlsplit(self.path).path)
            if route in ("/", "/index.html"):
                return self._file(static_root / "index.html")
            if route == "/api/manifest.json":
                body = json.dumps(manifest.as_json()).encode("utf-8")
                return self._send(HTTPStatus.OK, body, _TYPES[".json"])
            if route.startswith("/files/"):
                target = files.get(route.removeprefix("/files/"))
                if target is not None and target.is_file():
                    return self._file(target)
            elif route.startswith("/static/"):
                target = (static_root / route.removeprefix("/static/")).resolve()
                if target.is_relative_to(static_root) and target.is_file():
                    return self._file(target)
            self._send(HTTPStatus.NOT_FOUND, b"not found", _TYPES[".txt"])

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _check_loopback(host: str) -> str:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise LsfError(
            f"the viewer serves the loopback interface only (127.0.0.1 or ::1), not {host!r}"
        )
    return "127.0.0.1" if host == "localhost" else host


class ViewerServer:
    """The viewer for one output folder, served in a background thread.

    Args:
        folder: output folder of `animate --gltf` / `demo` (animation.glb, audio, heatmaps).
        audio: the audio to play instead of the one the .glb names.
        port: TCP port, 0 for a free one.
        host: a loopback address (the viewer never listens on other interfaces).
    """

    def __init__(
        self,
        folder: str | Path,
        audio: str | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.manifest = Manifest.of(folder, audio)
        self.host = _check_loopback(host)
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running")
        port = self._server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    def start(self) -> str:
        """Start serving; returns the page's URL."""
        server_class = _Server
        if ":" in self.host:
            import socket

            class _Server6(_Server):
                address_family = socket.AF_INET6

            server_class = _Server6
        try:
            self._server = server_class((self.host, self.port), _handler(self.manifest))
        except OSError as err:
            raise LsfError(
                f"cannot listen on {self.host}:{self.port} ({err}); choose another --port"
            ) from err
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ViewerServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    folder: str | Path,
    audio: str | Path | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Serve the viewer for `folder` until Ctrl-C (or until `stop` is set); prints the URL.

    This is `lsf-animation view OUT_DIR [--audio FILE] [--port N]`.
    """
    server = ViewerServer(folder, audio, port, host)
    url = server.start()
    m = server.manifest
    echo(f"viewer: {url}  ({m.glb.name}, audio: {m.audio.name if m.audio else 'none'})")
    echo("press Ctrl-C to stop")
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
