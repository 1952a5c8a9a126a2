"""The ``aekit`` command line. Only this package parses argv.

Each command lives in its own module, which registers on the apps in ``_app``.
"""

from aekit.cli._app import app, fit_app
from aekit.cli import _commands  # noqa: F401  (registers every command)

__all__ = ["app", "fit_app", "main"]


def main() -> None:
    app()
