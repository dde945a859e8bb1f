"""The `lsf-animation` command. Each subcommand is a thin wrapper over the library."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lsf_animation import __version__
from lsf_animation.errors import LsfError


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
@click.option("--size", default=512, show_default=True, help="Frame width and height in pixels.")
def render(motion: Path, out: Path, audio: Path | None, face: str, sample: int, size: int) -> None:
    """Render MOTION (.npz with `motion` (T, 53) or (K, T, 53) and `shape` (300,)) to an mp4."""
    from lsf_animation.api import render_video
    from lsf_animation.export.motion_npz import load_motion
    from lsf_animation.face.load import load_face_model

    if out.suffix.lower() != ".mp4":
        raise LsfError(f"--out must name an .mp4 file, got {out}")
    if audio is not None and not audio.is_file():
        raise LsfError(f"audio file not found: {audio}")
    motion_file = load_motion(motion)
    face_model = load_face_model(face)
    render_video(face_model, motion_file, out, audio, sample, size, progress=True)
    click.echo(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns LsfError into one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="lsf-animation", standalone_mode=False)
    except LsfError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
