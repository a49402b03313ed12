"""``python -m gdtrain`` runs the command line (and so does the ``gdtrain`` script, through ``run``)."""


def run() -> None:
    try:
        from .cli import main
    except KeyboardInterrupt:  # Ctrl-C while the command line is still being imported: no traceback
        import sys

        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    main()


if __name__ == "__main__":
    run()
