"""Allow ``python -m deskchat``."""

from deskchat.cli import app

app()
