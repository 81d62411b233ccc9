"""`python -m lumbung` is the `lumbung` command."""

from lumbung.cli import app

app()
