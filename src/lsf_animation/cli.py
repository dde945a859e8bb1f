"""The `lsf-animation` command. Each subcommand is a thin wrapper over the library."""

from __future__ import annotations

import sys

import click

from lsf_animation import __version__
from lsf_animation.errors import LsfError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lsf-animation")
def cli() -> None:
    """Label-free, emotion-aware, speech-driven 3D facial animation."""


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
