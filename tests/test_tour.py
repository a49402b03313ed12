"""Every command of the guided tour (docs/tour.md) runs as the tour says, so the tour cannot rot."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gdtrain.cli import app

TOUR = Path(__file__).resolve().parents[1] / "docs" / "tour.md"
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "120"}
# Commands the tour says fail on purpose, and how they end.
EXPECTED_FAILURES = {
    "gdtrain fit learning_rate --set optimizer.lr=1": (1, "training diverged at epoch"),
    "gdtrain fit diabetes --set data.standardize_target=false --set optimizer.lr=0.05": (1, "training diverged at epoch"),
    "gdtrain fit exploding --set clip.norm=null": (1, "training diverged at epoch"),
    "gdtrain gradcheck iris --bug tanh-derivative": (1, "FAILED: W1, b1"),
    "gdtrain gradcheck iris --epsilon 1e-2": (1, "the error fell 16.0× (error ∝ ε^2)"),
}


def tour_blocks():
    """(stop title, [commands]) for every ```bash block of the tour."""
    text = TOUR.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M):
        title, body = match.groups()
        for code in re.findall(r"```bash\n(.*?)```", body, flags=re.S):
            commands = [line.split("  #")[0].strip() for line in code.splitlines()]
            blocks.append((title, [c for c in commands if c.startswith("gdtrain ")]))
    return blocks


BLOCKS = tour_blocks()


def test_the_tour_has_a_command_for_every_stop():
    assert len(BLOCKS) >= 13
    assert all(commands for _, commands in BLOCKS)


@pytest.mark.parametrize("title, commands", BLOCKS, ids=[t.split(".")[0] for t, _ in BLOCKS])
def test_tour_stop_runs(tmp_path, monkeypatch, title, commands):
    monkeypatch.chdir(tmp_path)  # run directories (runs/...) go here, as for a reader in a fresh folder
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, shlex.split(command)[1:], env=ENV)
        code, text = EXPECTED_FAILURES.get(command, (0, ""))
        assert result.exit_code == code, f"{command}\n{result.output[-2000:]}"
        assert text in result.output, command
        assert "Traceback" not in result.output, command
