"""``python -m gdtrain`` runs the command line (and so does the ``gdtrain`` script, through ``run``)."""

import sys


def run() -> None:
    try:
        from .cli import main  # lazy: a Ctrl-C while the command line is still being imported prints no traceback
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    main()


if __name__ == "__main__":
    run()
