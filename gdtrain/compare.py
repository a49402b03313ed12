"""The race API under its first name: ``from gdtrain import compare`` is ``gdtrain.race`` (plan, run, RaceStop,
...); the code lives in the race package (gdtrain/race/), the contestants and targets in gdtrain/contestants.py."""

from .race import *  # noqa: F401,F403
