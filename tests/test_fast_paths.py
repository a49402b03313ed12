"""The optimized paths give the numbers of the straightforward formulas.

Reused buffers in the training step, the flat parameter vector and its views, Adam's blocked in-place update,
the per-epoch flush of subnormal optimizer state, float32 data kept float32 (and widened while read for a
float64 run), chunked standardization and evaluation, and the benchmark's --quick mode (so it cannot rot).
No timing assertions: speed is measured by benchmarks/bench.py.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdtrain.data.sources as sources_module
import gdtrain.activations as activations
import gdtrain.constant_arrays as constant_arrays
from gdtrain.activations import ACTIVATIONS
from gdtrain.config import from_dict
from gdtrain.data import load_data, standardize
from gdtrain.data.npz_files import read_npz
from gdtrain.data.table import CHUNK
from gdtrain.experiment import fit, seed_streams
from gdtrain.layers import column_sums
from gdtrain.losses import LOSSES
from gdtrain.monitor import EVAL_CHUNK, logits
from gdtrain.network import Network
from gdtrain.optimizers import Adam, make_optimizer, resolve_optimizer

REPO = Path(__file__).resolve().parents[1]
ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]


def straightforward_gradient(net: Network, X, y, loss, rng_seed):
    """Forward and backward without the training step's buffers (fresh arrays everywhere)."""
    z = net.forward(X, training=True, rng=np.random.default_rng(rng_seed))
    value, delta = loss.value_and_delta(z, y)
    net.backward(delta, reuse=False)
    return value, net.grad.copy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", ACTS)
def test_training_step_in_reused_buffers_equals_the_straightforward_one(act, dtype):
    rng = np.random.default_rng(0)
    net = Network([6, 9, 7, 3], [act, act, "identity"], [0.3, 0.0, 0.0], dtype=dtype)
    net.params[...] = rng.normal(0, 0.5, net.size)
    loss = LOSSES.get("cross_entropy")
    for n in (16, 5, 23, 16):  # buffers grow for a larger batch and are sliced for a smaller one
        X, y = rng.normal(size=(n, 6)).astype(dtype), rng.integers(0, 3, n)
        value = net.loss_and_grad(X, y, loss, training=True, rng=np.random.default_rng(n))
        fast = net.grad.copy()
        reference_value, reference = straightforward_gradient(net, X, y, loss, n)
        assert value == reference_value
        np.testing.assert_array_equal(fast, reference)
        assert fast.dtype == dtype and np.abs(fast).max() > 0


def test_layers_are_views_of_the_flat_vectors_and_updates_stay_in_place():
    net = Network([4, 5, 2], ["tanh", "identity"])
    params_id, grad_id = id(net.params), id(net.grad)
    for layer in net.layers:
        assert np.shares_memory(layer.W, net.params) and np.shares_memory(layer.b, net.params)
        assert np.shares_memory(layer.gW, net.grad) and np.shares_memory(layer.gb, net.grad)
    rng = np.random.default_rng(1)
    net.params[...] = rng.normal(0, 0.5, net.size)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 2, 8)
    optimizer = make_optimizer(resolve_optimizer({"name": "adam", "lr": 0.1}), net.size, net.dtype)
    net.loss_and_grad(X, y, LOSSES.get("cross_entropy"))
    before = net.layers[0].W.copy()
    optimizer.step(net.params, net.grad, 0.1)
    assert id(net.params) == params_id and id(net.grad) == grad_id
    assert not np.array_equal(net.layers[0].W, before)  # the layer sees the update through its view
    np.testing.assert_array_equal(net.views(net.params)["W1"], net.layers[0].W)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_are_the_sums_over_the_batch_rows(dtype, monkeypatch):
    """layers.column_sums (1ᵀa by BLAS, the bias gradients and batch norm's mean) equals a.sum(axis=0) to the
    rounding of the additions' order, for batches longer than its cached ones vector too, into ``out``."""
    monkeypatch.setattr(constant_arrays, "MIN_SIZE", 1024)
    monkeypatch.setattr(constant_arrays, "_CACHE", {})
    rng = np.random.default_rng(3)
    tol = 1e-5 if dtype == np.float32 else 1e-13

    def check(got, a):  # |error| ≤ tol Σ|a|: the bound of any order of the additions
        np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=0), rtol=0, atol=tol * np.abs(a).sum(axis=0).max())

    for rows, width in ((1, 5), (128, 256), (1259, 32), (5000, 3)):
        a = rng.normal(size=(rows, width)).astype(dtype)
        out = np.full(width, np.nan, dtype)
        got = column_sums(a, out=out)
        assert got is out and got.dtype == dtype
        check(got, a)
    assert not constant_arrays._CACHE[(1, np.dtype(dtype))].flags.writeable
    check(column_sums(a[::2]), a[::2])  # a strided batch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_against_cached_zeros_is_max_with_zero_bit_for_bit(dtype, monkeypatch):
    """ReLU's forward compares with a cached array of zeros (activations._relu): the same bits as
    np.maximum(z, 0), NaN, ±0 and ±inf included, for contiguous, strided and larger-than-cached batches."""
    relu = ACTIVATIONS.get("relu")
    monkeypatch.setattr(activations, "RELU_CACHED_ZEROS", 1000)
    monkeypatch.setattr(constant_arrays, "_CACHE", {})
    rng = np.random.default_rng(4)
    z = rng.normal(size=(40, 24)).astype(dtype)  # 960 entries: under the cache
    z.flat[:6] = [-0.0, 0.0, np.nan, np.inf, -np.inf, -1e-42]
    for batch in (z, z[:, ::2], np.concatenate([z, z])):  # contiguous, strided, over the cache
        expected = np.maximum(batch, 0)
        out = np.empty_like(batch)
        got = relu.forward(batch, out=out)
        assert got is out
        np.testing.assert_array_equal(got, expected)  # (NaN where NaN)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    assert not constant_arrays._CACHE[(0, np.dtype(dtype))].flags.writeable


def plain_adam(params, grads, lrs, betas, eps, weight_decay, amsgrad, eps_form, decoupled):
    """torch.optim.Adam / AdamW written out element-wise, in float64, with no tricks."""
    p = params.astype(np.float64).copy()
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        g = g.astype(np.float64).copy()
        if weight_decay and decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_used = v
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_used = v_max
        if eps_form == "torch":
            p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v_used / (1 - b2 ** t)) + eps)
        else:
            p = p - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v_used) + eps)
    return p


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("options", [
    {"name": "adam"},
    {"name": "adam", "amsgrad": True, "betas": [0.8, 0.95], "weight_decay": 0.01},
    {"name": "adam", "eps_form": "hat", "eps": 1e-3},
    {"name": "adamw", "weight_decay": 0.1},
], ids=["plain", "amsgrad-wd", "hat", "adamw"])
def test_blocked_adam_equals_the_plain_formula(options, dtype, rtol):
    size = 3 * Adam.BLOCK + 123  # several blocks and a remainder
    rng = np.random.default_rng(2)
    params = rng.normal(size=size).astype(dtype)
    grads = [rng.normal(size=size).astype(dtype) for _ in range(4)]
    grads[2][: Adam.BLOCK // 2] = 0  # a stretch with no gradient (dead units)
    lrs = [0.01, 0.008, 0.005, 0.003]
    spec = resolve_optimizer({"lr": 0.01, **options})
    optimizer = make_optimizer(spec, size, dtype)
    p = params.copy()
    for g, lr in zip(grads, lrs):
        optimizer.step(p, g.copy(), lr)
    expected = plain_adam(params, grads, lrs, spec["betas"], spec["eps"], spec["weight_decay"], spec["amsgrad"],
                          spec["eps_form"], decoupled=spec["name"] == "adamw")
    assert p.dtype == dtype and all(v.dtype == dtype for v in optimizer.state.values() if isinstance(v, np.ndarray))
    np.testing.assert_allclose(p, expected, rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-15)
    assert np.abs(p - params).max() > 1e-3  # it moved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_subnormals_zeroes_only_subnormal_state(dtype):
    optimizer = make_optimizer(resolve_optimizer({"name": "adam"}), 6, dtype)
    optimizer.step(np.zeros(6, dtype), np.ones(6, dtype), 0.001)
    tiny = np.finfo(dtype).tiny
    m = optimizer.state["exp_avg"]
    m[...] = [tiny / 4, -tiny / 2, tiny, -tiny * 3, 0.5, 0.0]
    optimizer.flush_subnormals()
    np.testing.assert_array_equal(m, np.array([0.0, 0.0, tiny, -tiny * 3, 0.5, 0.0], dtype))
    assert optimizer.state["step"] == 1


def test_training_flushes_optimizer_state_once_per_epoch(tmp_path, monkeypatch):
    calls = []
    original = Adam.flush_subnormals
    monkeypatch.setattr(Adam, "flush_subnormals", lambda self: (calls.append(1), original(self)))
    raw = {"seed": 0, "data": {"source": "iris"}, "model": {"hidden": [4]}, "optimizer": {"name": "adam"},
           "training": {"epochs": 3, "batch_size": 16}}
    fit(from_dict(raw), out=str(tmp_path / "run"))
    assert len(calls) == 3


# --- data: no widened or split copies, chunked arithmetic -------------------------------------------------

def test_float32_npz_stays_float32_and_is_widened_exactly_while_read(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 7)).astype(np.float32)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=rng.integers(0, 2, 1000))
    kept = read_npz(path)
    assert kept.X.dtype == np.float32 and np.array_equal(kept.X, X)
    widened = read_npz(path, widen=True)
    assert widened.X.dtype == np.float64 and np.array_equal(widened.X, X.astype(np.float64))
    # anything else is read as stored, then widened as before: float64 data, Fortran order, compressed
    np.savez(path, X=X.astype(np.float64), y=np.zeros(1000))
    assert read_npz(path, widen=True).X.dtype == np.float64
    np.savez(path, X=np.asfortranarray(X), y=np.zeros(1000))
    assert np.array_equal(read_npz(path, widen=True).X, X.astype(np.float64))
    np.savez_compressed(path, X=X, y=np.zeros(1000))
    assert np.array_equal(read_npz(path, widen=True).X, X.astype(np.float64))
    np.savez(path, X=np.arange(12, dtype=np.uint8).reshape(4, 3), y=np.zeros(4))
    assert read_npz(path).X.dtype == np.float64


def test_all_training_data_is_used_in_place(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    path = tmp_path / "d.npz"
    np.savez(path, X=rng.normal(size=(300, 5)).astype(np.float32), y=rng.integers(0, 3, 300))
    seen = {}
    original = sources_module.read_table

    def spy(*args, **kwargs):
        seen["table"] = original(*args, **kwargs)
        return seen["table"]

    monkeypatch.setattr(sources_module, "read_table", spy)
    config = from_dict({"dtype": "float32", "data": {"source": str(path), "validation_split": 0, "test_split": 0,
                                                     "standardize": False}})
    data = load_data(config, seed_streams(0)["data"], "classification")
    assert data.X_train is seen["table"].X  # not a copy, not reordered
    config = from_dict({"dtype": "float32", "data": {"source": str(path), "validation_split": 0.2}})
    split = load_data(config, seed_streams(0)["data"], "classification")
    assert not np.shares_memory(split.X_train, seen["table"].X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_standardization_equals_whole_array_arithmetic(dtype):
    rng = np.random.default_rng(5)
    X = rng.normal(3, 2, size=(3 * CHUNK + 17, 4)).astype(np.float32)
    mean, scale = X.mean(axis=0, dtype=np.float64), X.std(axis=0, dtype=np.float64)
    out = standardize(X, mean, scale, dtype)
    assert out.dtype == dtype and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, ((X.astype(np.float64) - mean) / scale).astype(dtype))
    assert standardize(out, None, None, dtype) is out  # nothing to do: no copy


def test_chunked_evaluation_equals_one_forward_pass():
    rng = np.random.default_rng(6)
    net = Network([5, 8, 3], ["relu", "identity"])
    net.params[...] = rng.normal(0, 0.5, net.size)
    X = rng.normal(size=(2 * EVAL_CHUNK + 9, 5))
    chunked = logits(net, X)
    assert chunked.shape == (len(X), 3)
    np.testing.assert_allclose(chunked, net.forward(X), rtol=1e-12, atol=1e-12)


# --- the benchmark cannot rot -------------------------------------------------------------------------

def test_benchmark_quick_mode_runs_and_writes_its_table(tmp_path):
    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--quick", "--results",
                           str(results)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = results.read_text(encoding="utf-8")
    for key in ("W1 f32 sgd-momentum", "W1 f32 adam", "W1 f64 sgd-momentum", "W1 f64 adam", "W1-BN f32 sgd-momentum",
                "W1-BN f32 adam", "W2", "W3", "startup"):
        rows = [line for line in text.splitlines() if line.startswith(f"| {key} | gdtrain |")]
        assert len(rows) == 1, key
        seconds = float(rows[0].split("|")[3])
        assert seconds > 0
    for key in ("W4 quickstart", "W4 mnist1d-mlp"):  # under load: gdtrain's time against its quiet one-thread time
        row = next(line for line in text.splitlines() if line.startswith(f"| {key} | gdtrain under load |"))
        assert "× quiet 1 thread" in row and float(row.split("|")[3]) > 0
    assert "| cores |" in text and "| blas |" in text
    assert "## Kernel path: native" in text and "kernels the contestants' OpenBLAS reported" in text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batches_are_gathered_into_a_reused_buffer_in_permutation_order(dtype):
    """Each mini-batch is X[order[i:i + bs]] (the last one shorter), gathered into one buffer reused all epoch."""
    from gdtrain.schedules import make_schedule, resolve_schedule
    from gdtrain.train import TrainSettings, train

    rng = np.random.default_rng(3)
    n, bs = 203, 32
    X, y = rng.normal(size=(n, 4)).astype(dtype), rng.integers(0, 3, n)
    net = Network([4, 5, 3], ["tanh", "identity"], dtype=dtype)
    net.params[...] = rng.normal(0, 0.3, net.size)
    seen, buffers = [], set()
    original = net.loss_and_grad

    def spy(xb, yb, *args, **kwargs):
        seen.append((xb.copy(), yb.copy()))
        buffers.add(xb.__array_interface__["data"][0])
        return original(xb, yb, *args, **kwargs)

    net.loss_and_grad = spy
    optimizer = make_optimizer(resolve_optimizer({"name": "sgd", "lr": 0.1}), net.size, dtype)
    schedule = make_schedule(resolve_schedule({"name": "constant"}), 0.1)
    train(net, LOSSES.get("cross_entropy"), X, y, X[:0], y[:0], optimizer, schedule,
          TrainSettings(batch_size=bs, epochs=2), shuffle_rng=np.random.default_rng(11))
    orders = np.random.default_rng(11)
    expected = [order[i:i + bs] for order in (orders.permutation(n), orders.permutation(n)) for i in range(0, n, bs)]
    assert len(seen) == len(expected) == 2 * math.ceil(n / bs)
    for (xb, yb), idx in zip(seen, expected):
        np.testing.assert_array_equal(xb, X[idx])
        np.testing.assert_array_equal(yb, y[idx])
    assert len(buffers) == 1  # one buffer, reused by every batch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 10), (7, 1), (3, 32), (5, 33), (0, 10)])
def test_row_max_equals_the_row_wise_reduction(shape, dtype):
    from gdtrain.losses import row_max

    z = np.random.default_rng(8).normal(size=shape).astype(dtype)
    if z.size:
        z[0, 0] = np.inf
        z[-1, -1] = np.nan
    np.testing.assert_array_equal(row_max(z), z.max(axis=1, keepdims=True) if len(z) else np.empty((0, 1), dtype))
    assert row_max(z).dtype == dtype


@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.01, "momentum": 0.9}, {"name": "adam", "lr": 0.001}])
def test_the_benchmarks_plain_numpy_trainer_computes_what_gdtrain_computes(optimizer):
    """benchmarks/bench.py's "plain numpy trainer" is a reference for speed: it must be a real trainer, with
    gdtrain's gradient (softmax cross-entropy over ReLU layers) and torch's SGD-momentum / Adam steps."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    namespace: dict = {}
    exec(bench.PLAIN_MLP, namespace)
    rng = np.random.default_rng(5)
    sizes, n = [6, 8, 7, 4], 9
    X, y = rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], n)
    name = "sgd-momentum" if optimizer["name"] == "sgd" else "adam"
    plain = namespace["PlainMLP"](sizes, np.float64, n, name, optimizer["lr"])
    net = Network(sizes, ["relu", "relu", "identity"], dtype=np.float64)
    net.params[...] = plain.params[...] = rng.normal(0, 0.5, net.size)
    loss = LOSSES.get("cross_entropy")
    reference = make_optimizer(resolve_optimizer(optimizer), net.size, np.float64)
    for t in range(1, 4):
        expected = net.loss_and_grad(X, y, loss)
        assert plain.loss_and_grad(X, y) == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(plain.grad, net.grad, rtol=1e-10, atol=1e-14)
        reference.update(net.params, net.grad, optimizer["lr"], t)
        plain.step()
        np.testing.assert_allclose(plain.params, net.params, rtol=1e-10, atol=1e-14)
