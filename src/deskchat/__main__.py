"""Allow ``python -m deskchat``."""

from deskchat.cli import main

main()
