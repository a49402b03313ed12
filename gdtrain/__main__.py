"""``python -m gdtrain`` runs the command line."""

from .cli import main

main()
