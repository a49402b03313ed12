"""The BLAS thread policy (gdtrain/threads.py): its choice, the override, the header line, and that the chosen
number is what the real BLAS library (threadpoolctl, no mocks) reports while the training runs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from gdtrain.cli import app
from gdtrain.config import from_dict
from gdtrain.experiment import fit
from gdtrain.network import Network
from gdtrain.threads import SMALL_GEMM_FLOPS, ThreadChoice, available_cores, blas_ceiling, blas_controllers, choose_for, choose_threads, gemm_flops, limited, squared_norm

threadpoolctl = pytest.importorskip("threadpoolctl")
ENV = {"CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}


def blas_now() -> int:
    return max(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")


def dot_threads() -> int:
    """The thread count of the BLAS libraries squared_norm holds (NumPy's among them: they are found once NumPy
    is loaded). Not blas_now(): a BLAS library loaded later (SciPy's own OpenBLAS, imported by another test in
    this process) is not one NumPy's dot products run on."""
    return max(lib.get_num_threads() for lib in blas_controllers())


def tiny(**training):
    return from_dict({"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8}]},
                      "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1},
                      "training": {"epochs": 2, "batch_size": 16, **training}})


def test_gemm_flops_is_the_largest_layers_forward_product():
    # 40-100-100-10: the 100x100 layer is the largest, 2 * batch * 100 * 100 flops
    assert gemm_flops(Network([40, 100, 100, 10], ["relu", "relu", "identity"]), 100) == 2_000_000
    assert gemm_flops(Network([784, 256, 128, 10], ["relu", "relu", "identity"]), 128) == 2 * 128 * 784 * 256


@pytest.mark.parametrize("flops, ceiling, cores, expected", [
    (2 * 32 * 64 * 64, 2, 2, 1),          # quickstart: small products → 1 thread
    (2 * 100 * 100 * 100, 2, 2, 1),       # the MNIST-1D-sized MLP: 2 MFLOP → 1 thread
    (2 * 128 * 784 * 256, 2, 2, 2),       # MNIST 784-256 at batch 128: 51 MFLOP → every core
    (2 * 128 * 784 * 256, 8, 4, 4),       # never more threads than cores
    (2 * 128 * 784 * 256, 1, 2, 1),       # BLAS limited to 1 (OPENBLAS_NUM_THREADS=1, a worker's share)
    (SMALL_GEMM_FLOPS, 4, 4, 4),          # the threshold itself is "large"
    (SMALL_GEMM_FLOPS - 1, 4, 4, 1),
])
def test_policy_choice(flops, ceiling, cores, expected):
    assert choose_threads(flops, ceiling, cores).threads == expected


def test_the_choice_does_not_depend_on_how_busy_the_machine_is(monkeypatch):
    """A busy machine gets the same count: the load average lags (it counts the processes that just finished,
    which gave W1 one thread in a benchmark), and the count changes the last bits of the weights."""
    import os

    net = Network([784, 256, 128, 10], ["relu", "relu", "identity"])
    quiet = choose_for(net, 128)
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    assert choose_for(net, 128) == quiet == choose_threads(gemm_flops(net, 128), blas_ceiling(), available_cores())


def test_policy_reasons_and_override():
    assert choose_threads(262_144, 2, 2).describe() == "1 (auto: small GEMMs, 0.262 MFLOP per product)"
    assert choose_threads(5.1e7, 2, 2).describe() == "2 (auto: large GEMMs, 51 MFLOP per product)"
    # an explicit count wins over the policy, small products or not
    assert choose_threads(100.0, 2, 2, requested=3) == ThreadChoice(3, "requested")


def test_config_key_is_checked():
    from gdtrain.errors import ConfigError

    assert tiny().training.threads == "auto" and tiny(threads=2).training.threads == 2
    with pytest.raises(ConfigError, match=r"training\.threads: must be auto or an integer >= 1"):
        tiny(threads=0)


@pytest.mark.parametrize("threads", [1, 2])
def test_training_runs_with_the_chosen_thread_count(tmp_path, threads):
    before = blas_now()
    seen = []
    result = fit(tiny(threads=threads), out=str(tmp_path / "run"),
                 on_epoch=lambda record: seen.append(blas_now()))
    assert seen == [threads, threads] and result.summary["epochs"] == 2
    assert blas_now() == before  # restored after the training


def test_auto_trains_small_networks_on_one_thread(tmp_path):
    seen, infos = [], []
    fit(tiny(), out=str(tmp_path / "run"), on_start=infos.append, on_epoch=lambda record: seen.append(blas_now()))
    assert infos[0].threads.threads == 1 and infos[0].threads.reason.startswith("auto: small GEMMs")
    assert seen == [1, 1]


def test_limited_caps_the_ceiling_the_policy_sees():
    with limited(ThreadChoice(1, "requested")):
        assert blas_ceiling() == 1 and choose_threads(1e9, blas_ceiling(), 2).threads == 1


def test_fit_header_states_the_threads(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["fit", "quickstart", "--epochs", "1", "--out", str(tmp_path / "a")], env=ENV)
    assert out.exit_code == 0, out.output
    line = next(l for l in out.output.splitlines() if l.startswith("threads"))
    assert line.startswith("threads   1 (auto: small GEMMs, 0.262 MFLOP per product)"), line  # 64x64 at batch 32
    out = runner.invoke(app, ["fit", "quickstart", "--epochs", "1", "--threads", "2", "--out", str(tmp_path / "b")],
                        env=ENV)
    assert out.exit_code == 0, out.output
    assert "threads   2 (requested)" in out.output.splitlines()
    out = runner.invoke(app, ["fit", "quickstart", "--threads", "0", "--out", str(tmp_path / "c")], env=ENV)
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_threads_changes_nothing_but_speed(tmp_path):
    """The same weights with 1 and 2 threads (a small network: one thread per product either way in OpenBLAS's
    split, so the sums are taken in the same order)."""
    a = fit(tiny(threads=1), out=str(tmp_path / "a")).net.params
    b = fit(tiny(threads=2), out=str(tmp_path / "b")).net.params
    np.testing.assert_array_equal(a, b)


def test_compare_and_gradcheck_take_threads(tmp_path):
    """--threads reaches every run of a race (its config.yaml says so) and gradcheck accepts it."""
    import yaml

    config = tmp_path / "race.yaml"
    config.write_text(yaml.safe_dump({"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [{"units": 8}]},
                                      "loss": "cross_entropy", "training": {"epochs": 1, "batch_size": 16}}))
    runner = CliRunner()
    out = runner.invoke(app, ["compare-optimizers", str(config), "--optimizers", "sgd,adam", "--threads", "1",
                              "--out", str(tmp_path / "race")], env=ENV)
    assert out.exit_code == 0, out.output
    saved = sorted((tmp_path / "race").glob("*/config.yaml"))
    assert len(saved) == 2 and all(yaml.safe_load(p.read_text())["training"]["threads"] == 1 for p in saved)
    out = runner.invoke(app, ["gradcheck", str(config), "--threads", "1", "--samples", "8"], env=ENV)
    assert out.exit_code == 0 and "all tensors pass" in out.output, out.output


def test_a_resumed_auto_run_keeps_the_thread_count_it_started_with(tmp_path):
    """The thread count changes the order of some sums (the last bits), so `--resume` under auto trains on the
    threads the checkpoint records, not on what the policy would pick now; summary.json says how many."""
    run = tmp_path / "run"
    first = fit(tiny(threads=2), out=str(run))
    assert first.summary["threads"] == 2
    infos, seen = [], []
    resumed = fit(tiny(epochs=3), resume=str(run), on_start=infos.append,
                  on_epoch=lambda record: seen.append(blas_now()))
    assert infos[0].threads.describe() == "2 (auto: as the run started)" and seen == [2]
    assert resumed.summary["threads"] == 2 and resumed.summary["epochs"] == 3


@pytest.mark.parametrize("dtype, size, threads_in_dot", [("float64", 200_704, 1), ("float64", 10_000, 2),
                                                          ("float32", 200_704, 2)])
def test_squared_norm_takes_a_large_float64_dot_on_one_thread(monkeypatch, dtype, size, threads_in_dot):
    """OpenBLAS splits a float64 dot product of over 10,000 entries over its threads, which costs the training
    loop more than it saves (threads.squared_norm): the gradient norms take it on one thread, and the library's
    thread count is as it was afterwards. Smaller or float32 vectors, which OpenBLAS does not split, are left
    alone."""
    with limited(ThreadChoice(2, "requested")):
        if blas_now() < 2:
            pytest.skip("the BLAS library here runs a single thread")
        seen = []
        vdot = np.vdot

        def spy(a, b):
            seen.append(dot_threads())
            return vdot(a, b)

        x = np.random.default_rng(0).standard_normal(size).astype(dtype)
        monkeypatch.setattr(np, "vdot", spy)
        value = squared_norm(x)
        monkeypatch.undo()
        assert seen == [threads_in_dot]
        assert blas_now() == 2
        assert value == pytest.approx(float(np.sum(x.astype(np.float64) ** 2)), rel=1e-5)


def test_training_gradient_norms_and_penalty_take_the_one_thread_dot(monkeypatch):
    from gdtrain.losses import LOSSES
    from gdtrain.monitor import EpochMeter

    with limited(ThreadChoice(2, "requested")):
        if blas_now() < 2:
            pytest.skip("the BLAS library here runs a single thread")
        net = Network([784, 16, 3], ["relu", "identity"], dtype=np.float64)  # ∂J/∂W1: 12,544 entries
        net.initialize(np.random.default_rng(0))
        rng = np.random.default_rng(1)
        loss = LOSSES.get("cross_entropy")
        net.loss_and_grad(rng.standard_normal((8, 784)), rng.integers(0, 3, 8), loss)
        meter = EpochMeter(net, loss=loss)
        seen, vdot = [], np.vdot
        monkeypatch.setattr(np, "vdot", lambda a, b: seen.append((np.size(a), dot_threads())) or vdot(a, b))
        norm = meter.add()
        assert (16 * 784, 1) in seen and blas_now() == 2
        seen.clear()
        penalty = net.penalty(0.1)  # the L2 penalty of every step: λ Σ ‖W‖², the same dot products
        monkeypatch.undo()
        assert (16 * 784, 1) in seen and blas_now() == 2
        assert norm == pytest.approx(float(np.linalg.norm(net.grad)), rel=1e-12)
        W1, W2 = net.views(net.params)["W1"], net.views(net.params)["W2"]
        assert penalty == pytest.approx(0.1 * float(np.sum(W1 ** 2) + np.sum(W2 ** 2)), rel=1e-12)
