"""Explicit, named state: the attributes of an object that a checkpoint saves and a resumed run restores.

A class lists them in ``STATE`` (plain numbers, strings and lists: they are stored as JSON); schedules,
early stopping, the warnings' bookkeeping and the training loop's state all save themselves this way.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple


class NamedState:
    STATE: Tuple[str, ...] = ()

    def state_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.STATE}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name in self.STATE:
            setattr(self, name, state[name])
