"""The layer protocol (batch norm, residual blocks, output activations, frozen tensors) against PyTorch, float64.

Each network is built the product's way (config dict → ``from_dict`` → ``build_layers`` → ``Network``) and
the same network in torch (nn.Linear, nn.BatchNorm1d, the residual add written out) with the same tensors,
matched by name: Wk/bk is the k-th dense layer in the order the layers run (a residual block's projection
after the block's layers), gammak/betak/running_meank/running_vark the k-th batch norm.

Then through ``fit``: frozen tensors never move (weight decay, momentum and the L2 penalty included) and the
trajectory is torch's with requires_grad=False on them; a resumed run with batch norm ends bit-identical to an
uninterrupted one (running statistics included); early stopping and keep: best restore the best epoch's
running statistics together with its weights.

Relative error per tensor: rel(a, t) = max|a − t| / max(|a| + |t|) (helpers.rel_err), < 1e-10 unless stated.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import rel_err

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from gdtrain.config import from_dict  # noqa: E402
from gdtrain.experiment import fit  # noqa: E402
from gdtrain.layers import BatchNorm, Dense, OutputActivation, Residual, build_layers  # noqa: E402
from gdtrain.losses import LOSSES  # noqa: E402
from gdtrain.network import Network  # noqa: E402
from gdtrain.optimizers import make_optimizer, resolve_optimizer  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_float64")

TOL = 1e-10
DT = torch.float64


def assert_close(name, got, want, tol=TOL):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert np.isfinite(got).all(), name
    err = rel_err(got, want)
    assert err < tol, f"{name}: rel err {err:.3g} (max |diff| {float(np.max(np.abs(got - want))):.3g})"


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=DT, requires_grad=requires_grad)


def read_npz(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


# --- 1. dense(relu) → batchnorm → residual [dense relu, bn] → residual with projection → output ---------

D, K = 4, 3
HIDDEN = [
    {"units": 6, "activation": "relu"},  # W1, b1
    {"type": "batchnorm"},  # gamma1, beta1, running_mean1, running_var1
    {"type": "residual", "hidden": [{"units": 6, "activation": "relu"}, {"type": "batchnorm"}]},  # W2 b2, bn 2
    {"type": "residual", "projection": True,  # block W3 b3 and bn 3 (own momentum and eps), projection W4 b4
     "hidden": [{"units": 5, "activation": "tanh"}, {"type": "batchnorm", "momentum": 0.3, "eps": 1e-3}]},
]  # output layer: W5, b5

# gdtrain name -> attribute path in TorchNet
PARAMS = {"W1": "fc1.weight", "b1": "fc1.bias", "gamma1": "bn1.weight", "beta1": "bn1.bias",
          "W2": "fc2.weight", "b2": "fc2.bias", "gamma2": "bn2.weight", "beta2": "bn2.bias",
          "W3": "fc3.weight", "b3": "fc3.bias", "gamma3": "bn3.weight", "beta3": "bn3.bias",
          "W4": "proj.weight", "b4": "proj.bias", "W5": "out.weight", "b5": "out.bias"}
STATE = {f"running_{s}{i}": f"bn{i}.running_{s}" for i in (1, 2, 3) for s in ("mean", "var")}
WEIGHTS = ["W1", "W2", "W3", "W4", "W5"]


class TorchNet(nn.Module):
    def __init__(self, d=D, k=K):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(d, 6), nn.BatchNorm1d(6)
        self.fc2, self.bn2 = nn.Linear(6, 6), nn.BatchNorm1d(6)
        self.fc3, self.bn3 = nn.Linear(6, 5), nn.BatchNorm1d(5, momentum=0.3, eps=1e-3)
        self.proj = nn.Linear(6, 5)
        self.out = nn.Linear(5, k)
        self.double()

    def forward(self, x):
        h = self.bn1(F.relu(self.fc1(x)))
        h = h + self.bn2(F.relu(self.fc2(h)))  # identity skip
        h = self.proj(h) + self.bn3(torch.tanh(self.fc3(h)))  # projection skip
        return self.out(h)


def torch_tensor(model, path):
    obj = model
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def build_net(hidden=HIDDEN, d=D, k=K, output_activation="identity", loss="cross_entropy", freeze=()):
    model = from_dict({"loss": loss, "model": {"hidden": hidden, "output_activation": output_activation,
                                               "freeze": list(freeze)}}).model
    layers = build_layers(model.hidden, d, k, model.output_activation)
    return Network(layers, dtype=np.float64, freeze=model.freeze)


def make_pair(seed=0):
    """(net, torch model) with the same non-trivial tensors: random W, b, γ, β and running statistics."""
    rng = np.random.default_rng(seed)
    net = build_net()
    net.initialize(rng)
    values = {}
    for name, view in net.views(net.params).items():
        if name.startswith("W"):
            values[name] = view.copy()
        elif name.startswith(("b", "beta")):
            values[name] = rng.normal(0, 0.3, view.shape)
        elif name.startswith("gamma"):
            values[name] = rng.uniform(0.5, 1.5, view.shape)
        elif name.startswith("running_mean"):
            values[name] = rng.normal(0, 0.5, view.shape)
        elif name.startswith("running_var"):
            values[name] = rng.uniform(0.5, 2.0, view.shape)
    net.set_weights(values)
    model = TorchNet()
    with torch.no_grad():
        for name, path in {**PARAMS, **STATE}.items():
            target = torch_tensor(model, path)
            assert tuple(target.shape) == net.shapes[name], name  # W is (fan_out, fan_in) like Linear.weight
            target.copy_(t64(values[name]))
    return net, model


def classification_data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.5, 1.5, size=(n, D))
    y = rng.permutation(np.arange(n) % K).astype(np.int64)
    return X, y


def assert_state_equal(net, model, where=""):
    views = net.views(net.params)
    for name, path in STATE.items():
        assert_close(f"{where}{name}", views[name], torch_tensor(model, path).detach().numpy())


def assert_params_equal(net, model, where=""):
    views = net.views(net.params)
    for name, path in PARAMS.items():
        assert_close(f"{where}{name}", views[name], torch_tensor(model, path).detach().numpy())


def test_the_network_is_laid_out_and_named_as_documented():
    net = build_net()
    assert [type(layer) for layer in net.layers] == [Dense, BatchNorm, Residual, Residual, Dense]
    assert sorted(net.names) == sorted(PARAMS)
    assert sorted(net.state_names()) == sorted(STATE)
    assert net.frozen_names() == []
    assert net.n_trainable == net.size == sum(int(np.prod(net.shapes[n])) for n in PARAMS)
    # θ = [trainable | frozen | state]: the state after every parameter
    state_starts = [net.slices[n].start for n in STATE]
    assert min(state_starts) == net.size and net.params.size == net.size + sum(net.shapes[n][0] for n in STATE)
    proj = net.layers[3].projection
    assert proj.weight_name == "W4" and net.layers[3].block[0].weight_name == "W3"
    bn3 = net.layers[3].block[1]
    assert (bn3.momentum, bn3.eps) == (0.3, 1e-3)


# --- 1. training-mode forward, every gradient, the running statistics ------------------------------------

def torch_objective(model, X, y, l2):
    out = model(t64(X))
    J = F.cross_entropy(out, torch.tensor(y))
    if l2:
        J = J + l2 * sum((torch_tensor(model, PARAMS[w]) ** 2).sum() for w in WEIGHTS)
    return out, J


def test_training_forward_and_running_statistics_match_torch():
    X, _ = classification_data()
    net, model = make_pair()
    model.train()
    out = net.forward(X, training=True)
    with torch.no_grad():
        want = model(t64(X)).numpy()
    assert_close("output", out, want)
    assert_state_equal(net, model)
    # the running statistics did move (from the values set in make_pair), by momentum 0.1 and 0.3
    fresh, _ = make_pair()
    moved = net.views(net.params)
    for name in STATE:
        assert not np.allclose(moved[name], fresh.views(fresh.params)[name]), name


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_every_gradient_matches_torch_in_training_mode(l2):
    X, y = classification_data()
    net, model = make_pair()
    model.train()
    value = net.loss_and_grad(X, y, LOSSES.get("cross_entropy"), l2, training=True)
    out, J = torch_objective(model, X, y, l2)
    J.backward()
    assert value == pytest.approx(float(J.detach()), rel=1e-12)
    grads = net.views(net.grad)
    for name, path in PARAMS.items():
        want = torch_tensor(model, path).grad.numpy()
        assert np.abs(want).max() > 1e-6, name  # nothing passes vacuously
        assert_close(f"∂{name}", grads[name], want)
    assert_state_equal(net, model)  # one training forward inside loss_and_grad, one in torch
    assert not np.any(net.grad[net.size:]), "the state has no gradient"


def test_every_gradient_matches_torch_in_evaluation_mode():
    """training=False: batch norm normalizes with its running statistics, which are constants of the gradient."""
    X, y = classification_data(seed=2)
    net, model = make_pair(seed=3)
    before = net.params.copy()
    model.eval()
    value = net.loss_and_grad(X, y, LOSSES.get("cross_entropy"), 0.0, training=False)
    out, J = torch_objective(model, X, y, 0.0)
    J.backward()
    assert value == pytest.approx(float(J.detach()), rel=1e-12)
    assert_close("eval output", net.forward(X, training=False), out.detach().numpy())
    grads = net.views(net.grad)
    for name, path in PARAMS.items():
        want = torch_tensor(model, path).grad.numpy()
        assert np.abs(want).max() > 1e-6, name
        assert_close(f"∂{name}", grads[name], want)
    assert np.array_equal(net.params, before)  # evaluation never moves the running statistics
    assert_state_equal(net, model)


# --- 1b. more shapes, the torch network built from the config itself -----------------------------------

TORCH_ACT = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z}


class TorchFromConfig:
    """The network a model.hidden list describes, in torch ops, numbering its tensors by the documented rule
    (dense layers in the order they run, a residual block's projection after the block's layers; batch norms
    likewise) independently of gdtrain's builder."""

    def __init__(self, hidden, d, k):
        self.shapes, self.specs, self.counts = {}, [], {"dense": 0, "bn": 0}
        width = self._plan(hidden, d, self.specs)
        self.specs.append(self._dense(width, k, "identity"))

    def _dense(self, fan_in, units, activation):
        self.counts["dense"] += 1
        i = self.counts["dense"]
        self.shapes[f"W{i}"], self.shapes[f"b{i}"] = (units, fan_in), (units,)
        return ("dense", i, activation)

    def _plan(self, entries, width, out):
        for entry in entries:
            entry = {"units": entry} if isinstance(entry, int) else entry
            kind = entry.get("type", "dense")
            if kind == "dense" and entry.get("batchnorm"):  # the shorthand: Linear → BatchNorm1d → activation
                out.append(self._dense(width, entry["units"], "identity"))
                width = entry["units"]
                self._plan([{"type": "batchnorm"}], width, out)
                out.append(("act", entry.get("activation", "relu")))
            elif kind == "dense":
                out.append(self._dense(width, entry["units"], entry.get("activation", "relu")))
                width = entry["units"]
            elif kind == "batchnorm":
                self.counts["bn"] += 1
                i = self.counts["bn"]
                for name in ("running_mean", "running_var") + (("gamma", "beta") if entry.get("affine", True) else ()):
                    self.shapes[f"{name}{i}"] = (width,)
                out.append(("bn", i, entry.get("momentum", 0.1), entry.get("eps", 1e-5), entry.get("affine", True)))
            else:
                block = []
                end = self._plan(entry["hidden"], width, block)
                proj = self._dense(width, end, "identity") if entry.get("projection") else None
                out.append(("residual", block, proj))
                width = end
        return width

    def forward(self, P, h, training, specs=None):
        for spec in self.specs if specs is None else specs:
            if spec[0] == "dense":
                _, i, act = spec
                h = TORCH_ACT[act](h @ P[f"W{i}"].T + P[f"b{i}"])
            elif spec[0] == "act":
                h = TORCH_ACT[spec[1]](h)
            elif spec[0] == "bn":
                _, i, momentum, eps, affine = spec
                h = F.batch_norm(h, P[f"running_mean{i}"], P[f"running_var{i}"], P.get(f"gamma{i}"),
                                 P.get(f"beta{i}"), training=training, momentum=momentum, eps=eps)
            else:
                _, block, proj = spec
                skip = h if proj is None else self.forward(P, h, training, [proj])
                h = self.forward(P, h, training, block) + skip
        return h


SHAPES = {
    "batchnorm_affine_false": [{"units": 5, "activation": "relu"}, {"type": "batchnorm", "affine": False}],
    "block_starting_with_batchnorm": [{"units": 5, "activation": "tanh"}, {"type": "residual", "hidden": [
        {"type": "batchnorm"}, {"units": 5, "activation": "relu"}]}],
    "nested_residuals": [{"units": 5, "activation": "relu"}, {"type": "residual", "hidden": [
        {"type": "residual", "hidden": [{"units": 5, "activation": "tanh"}, {"type": "batchnorm"}]},
        {"type": "residual", "projection": True, "hidden": [{"units": 7, "activation": "tanh"}]},
        {"units": 5, "activation": "identity"}]}],
    "projection_first": [
        {"type": "residual", "projection": True, "hidden": [{"type": "batchnorm", "eps": 0.1},
                                                             {"units": 6, "activation": "identity"}]},
        {"type": "residual", "hidden": [{"units": 6, "activation": "tanh"}]}, {"type": "batchnorm"}],
    "momentum_one_and_zero": [{"type": "batchnorm", "momentum": 1.0}, {"units": 6, "activation": "sigmoid"},
                              {"type": "batchnorm", "momentum": 0.0}],
}


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_more_shapes_match_torch(shape, training):
    hidden = SHAPES[shape]
    net = build_net(hidden)
    mirror = TorchFromConfig(hidden, D, K)
    assert net.shapes == mirror.shapes  # the same tensors, under the same names
    rng = np.random.default_rng(9)
    net.initialize(rng)
    values = {}
    for name, view in net.views(net.params).items():
        if name.startswith(("gamma", "running_var")):
            values[name] = rng.uniform(0.5, 1.5, view.shape)
        elif name.startswith("W"):
            values[name] = view.copy()
        else:
            values[name] = rng.normal(0, 0.3, view.shape)
    net.set_weights(values)
    X, y = classification_data(n=14, seed=10)
    value = net.loss_and_grad(X, y, LOSSES.get("cross_entropy"), 0.0, training=training)
    P = {n: t64(v, requires_grad=net.specs[n].is_parameter) for n, v in values.items()}
    out = mirror.forward(P, t64(X), training)
    J = F.cross_entropy(out, torch.tensor(y))
    J.backward()
    assert value == pytest.approx(float(J.detach()), rel=1e-12)
    grads, params = net.views(net.grad), net.views(net.params)
    for name in net.names:
        assert np.abs(P[name].grad.numpy()).max() > 1e-6, name
        assert_close(f"∂{name}", grads[name], P[name].grad.numpy())
    for name in net.state_names():
        assert_close(name, params[name], P[name].detach().numpy())


SHORTHAND = [{"units": 6, "activation": "relu", "batchnorm": True},  # dense → batchnorm → ReLU
             {"type": "residual", "hidden": [{"units": 4, "activation": "tanh", "batchnorm": True},
                                             {"units": 6, "activation": "relu"}]}]


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
def test_dense_batchnorm_relu_then_a_residual_block_matches_torch(training):
    """The issue's network: dense → batchnorm → ReLU → residual block → output, with the batchnorm: true shorthand."""
    net = build_net(SHORTHAND)
    mirror = TorchFromConfig(SHORTHAND, D, K)
    assert net.shapes == mirror.shapes
    assert net.describe() == f"{D} → 6 → batchnorm → relu → residual(4 → batchnorm → tanh → 6 relu) → {K}"
    rng = np.random.default_rng(4)
    net.initialize(rng)
    values = {name: (rng.uniform(0.5, 1.5, v.shape) if name.startswith(("gamma", "running_var"))
                     else v.copy() if name.startswith("W") else rng.normal(0, 0.3, v.shape))
              for name, v in net.views(net.params).items()}
    net.set_weights(values)
    X, y = classification_data(n=12, seed=5)
    value = net.loss_and_grad(X, y, LOSSES.get("cross_entropy"), 0.01, training=training)
    P = {n: t64(v, requires_grad=net.specs[n].is_parameter) for n, v in values.items()}
    J = F.cross_entropy(mirror.forward(P, t64(X), training), torch.tensor(y))
    J = J + 0.01 * sum((P[n] ** 2).sum() for n in net.weight_names())
    J.backward()
    assert value == pytest.approx(float(J.detach()), rel=1e-12)
    grads, params = net.views(net.grad), net.views(net.params)
    # In training, a bias right before batch norm (b1, b2) has no effect on the loss: its gradient is 0 up to
    # rounding, here as in torch, so it is compared absolutely.
    before_norm = {"b1", "b2"} if training else set()
    for name in net.names:
        if name in before_norm:
            assert np.abs(grads[name]).max() < 1e-12 and np.abs(P[name].grad.numpy()).max() < 1e-12, name
        else:
            assert_close(f"∂{name}", grads[name], P[name].grad.numpy())
    for name in net.state_names():
        assert_close(name, params[name], P[name].detach().numpy())


# --- 2. five Adam steps, then evaluation mode ----------------------------------------------------------

def test_five_adam_steps_match_torch_adam_then_eval_outputs():
    X, y = classification_data(n=40, seed=4)
    net, model = make_pair(seed=5)
    spec = resolve_optimizer({"name": "adam", "lr": 0.02, "weight_decay": 1e-3})
    optimizer = make_optimizer(spec, net.n_trainable, net.dtype)
    topt = torch.optim.Adam(model.parameters(), lr=0.02, weight_decay=1e-3)
    loss = LOSSES.get("cross_entropy")
    order = np.random.default_rng(6).permutation(len(X))
    sizes = [10, 7, 9, 6, 8]  # each batch its own n/(n − 1) in the running variance
    start = 0
    initial = net.params.copy()
    model.train()
    for step, size in enumerate(sizes, start=1):
        idx = order[start:start + size]
        start += size
        net.loss_and_grad(X[idx], y[idx], loss, 0.0, training=True)
        optimizer.step(net.trainable, net.trainable_grad, spec["lr"])  # as train.py does
        topt.zero_grad()
        _, J = torch_objective(model, X[idx], y[idx], 0.0)
        J.backward()
        topt.step()
        assert_params_equal(net, model, f"step {step}: ")
        assert_state_equal(net, model, f"step {step}: ")
    assert optimizer.state["step"] == 5
    assert np.all(net.params != initial)  # every parameter and every running statistic moved
    model.eval()
    X_test, _ = classification_data(n=15, seed=7)
    with torch.no_grad():
        want = model(t64(X_test)).numpy()
    before = net.params.copy()
    assert_close("eval output", net.forward(X_test, training=False), want)
    assert np.array_equal(net.params, before)
    # and evaluation really is not training mode: the batch's own statistics give other outputs
    assert rel_err(net.forward(X_test, training=False), net.copy().forward(X_test, training=True)) > 1e-3


# --- 3. frozen tensors through fit ---------------------------------------------------------------------

FROZEN_CASES = {
    # model.freeze [b1, gamma1] and trainable: false on a dense layer; adam with weight decay
    "adam_dense_untrainable": (
        [{"units": 8, "activation": "relu"}, {"type": "batchnorm"},
         {"units": 6, "activation": "tanh", "trainable": False},
         {"type": "residual", "hidden": [{"units": 6, "activation": "relu"}, {"type": "batchnorm"}]}],
        {"name": "adam", "lr": 0.05, "weight_decay": 0.1},
        {"b1", "gamma1", "W2", "b2"}, None),
    # model.freeze [b1, gamma1] and trainable: false on a whole residual block; momentum sgd with weight decay
    "momentum_residual_untrainable": (
        [{"units": 8, "activation": "relu"}, {"type": "batchnorm"},
         {"units": 6, "activation": "tanh"},
         {"type": "residual", "trainable": False,
          "hidden": [{"units": 6, "activation": "relu"}, {"type": "batchnorm"}]}],
        {"name": "momentum", "lr": 0.1, "weight_decay": 0.1},
        {"b1", "gamma1", "W3", "b3", "gamma2", "beta2"}, 0.5),  # and clip.norm: its norm counts no frozen tensor
}


def torch_sequential_forward(P, hidden, X):
    """The FROZEN_CASES networks with torch ops on named leaf tensors (training-mode batch norm)."""
    def bn(h, i):
        return F.batch_norm(h, P[f"running_mean{i}"], P[f"running_var{i}"], P[f"gamma{i}"], P[f"beta{i}"],
                            training=True, momentum=0.1, eps=1e-5)

    act = {"relu": F.relu, "tanh": torch.tanh}
    h = t64(X)
    h = bn(act["relu"](h @ P["W1"].T + P["b1"]), 1)
    h = act["tanh"](h @ P["W2"].T + P["b2"])
    h = h + bn(F.relu(h @ P["W3"].T + P["b3"]), 2)
    return h @ P["W4"].T + P["b4"]


@pytest.mark.parametrize("case", sorted(FROZEN_CASES))
def test_frozen_tensors_never_move_and_the_rest_follows_torch(tmp_path, case):
    hidden, opt, frozen, clip = FROZEN_CASES[case]
    l2 = 1e-3  # the penalty's gradient reaches frozen W too, and must not move them
    raw = {"seed": 0, "data": {"source": "iris"},
           "model": {"hidden": copy.deepcopy(hidden), "freeze": ["b1", "gamma1"]},
           "loss": "cross_entropy", "regularization": {"l2": l2}, "optimizer": opt, "clip": {"norm": clip},
           "training": {"mode": "batch", "epochs": 5}}
    initial = {}

    def on_start(info):
        assert set(info.net.frozen_names()) == frozen
        initial.update(info.net.weights())

    result = fit(from_dict(copy.deepcopy(raw)), out=str(tmp_path / "run"), on_start=on_start)
    assert result.summary["stop_reason"] == "completed" and result.summary["epochs"] == 5
    clipped = [record.clip_fraction for record in result.train.history]
    assert clipped == [1.0 if clip else 0.0] * 5  # with clip.norm, every step was clipped
    model = read_npz(tmp_path / "run" / "model.npz")
    assert set(initial) == {"W1", "b1", "gamma1", "beta1", "W2", "b2", "W3", "b3", "gamma2", "beta2", "W4", "b4",
                            "running_mean1", "running_var1", "running_mean2", "running_var2"}
    for name, value in initial.items():
        if name in frozen:
            assert np.array_equal(model[name], value), f"{name} is frozen but moved"
        else:
            assert not np.array_equal(model[name], value), f"{name} is trained (or state) but did not move"

    # torch: the same five full-batch steps, requires_grad=False on the frozen tensors
    data = result.data
    P = {name: t64(value, requires_grad=name in initial and not name.startswith("running") and name not in frozen)
         for name, value in initial.items()}
    trained = [P[name] for name in P if P[name].requires_grad]
    spec = resolve_optimizer(opt)
    if spec["name"] == "adam":
        topt = torch.optim.Adam(trained, lr=spec["lr"], weight_decay=spec["weight_decay"])
    else:
        topt = torch.optim.SGD(trained, lr=spec["lr"], momentum=spec["momentum"], weight_decay=spec["weight_decay"])
    for _ in range(5):
        topt.zero_grad()
        out = torch_sequential_forward(P, hidden, data.X_train)
        J = F.cross_entropy(out, torch.tensor(data.y_train)) + l2 * sum((P[w] ** 2).sum() for w in ("W1", "W2", "W3",
                                                                                                   "W4"))
        J.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(trained, clip)
        topt.step()
    for name in initial:
        assert_close(f"{case}: {name}", model[name], P[name].detach().numpy())


# --- 4. output activations with mse ---------------------------------------------------------------------

TORCH_OUT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softmax": lambda z: torch.softmax(z, dim=1)}


@pytest.mark.parametrize("name", sorted(TORCH_OUT))
def test_output_activation_with_mse_matches_torch(name):
    hidden = [{"units": 5, "activation": "tanh"}, {"type": "batchnorm"}]
    net = build_net(hidden, d=D, k=3, output_activation=name, loss="mse")
    assert isinstance(net.layers[-1], OutputActivation) and net.layers[-1].name == name
    assert net.names == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    rng = np.random.default_rng(8)
    net.initialize(rng)
    values = {n: v.copy() for n, v in net.views(net.params).items()}
    values.update(b1=rng.normal(0, 0.3, 5), b2=rng.normal(0, 0.3, 3), gamma1=rng.uniform(0.5, 1.5, 5),
                  beta1=rng.normal(0, 0.3, 5), W2=rng.normal(0, 1.0, (3, 5)))
    net.set_weights(values)
    X = rng.normal(size=(20, D))
    y = rng.uniform(-0.5 if name == "tanh" else 0.0, 1.0, size=(20, 3))

    P = {n: t64(values[n], requires_grad=net.specs[n].is_parameter) for n in values}
    h = t64(X) @ P["W1"].T + P["b1"]
    h = F.batch_norm(torch.tanh(h), P["running_mean1"], P["running_var1"], P["gamma1"], P["beta1"], training=True)
    yhat = TORCH_OUT[name](h @ P["W2"].T + P["b2"])
    J = F.mse_loss(yhat, t64(y))
    J.backward()

    out = net.copy().forward(X, training=True)
    assert_close(f"{name} output", out, yhat.detach().numpy())
    if name == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-14)
    value = net.loss_and_grad(X, y, LOSSES.get("mse"), 0.0, training=True)
    assert value == pytest.approx(float(J.detach()), rel=1e-12)
    grads = net.views(net.grad)
    for n in net.names:
        want = P[n].grad.numpy()
        assert np.abs(want).max() > 1e-6, n
        assert_close(f"{name}: ∂{n}", grads[n], want)
    assert_close("running_mean1", net.views(net.params)["running_mean1"], P["running_mean1"].numpy())
    assert_close("running_var1", net.views(net.params)["running_var1"], P["running_var1"].numpy())


# --- 5. checkpoint / resume with batch norm ------------------------------------------------------------

BN_RUN = {"seed": 2, "data": {"source": "iris"},
          "model": {"hidden": [{"units": 16, "activation": "relu", "dropout": 0.1}, {"type": "batchnorm"},
                               {"type": "residual", "hidden": [{"units": 16, "activation": "tanh"},
                                                               {"type": "batchnorm", "momentum": 0.2}]},
                               {"type": "residual", "projection": True,
                                "hidden": [{"units": 8, "activation": "relu"}, {"type": "batchnorm"}]}]},
          "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.01},
          "training": {"mode": "minibatch", "batch_size": 16, "epochs": 6}}


def with_epochs(raw, epochs, **training):
    out = copy.deepcopy(raw)
    out["training"] = {**out["training"], "epochs": epochs, **training}
    return out


def assert_same_model(a, b):
    ma, mb = read_npz(a / "model.npz"), read_npz(b / "model.npz")
    assert sorted(ma) == sorted(mb)
    for name in ma:
        assert np.array_equal(ma[name], mb[name]), (name, ma[name], mb[name])
    return ma


class StopAfterPolls:
    def __init__(self, polls):
        self.polls, self.calls = polls, 0

    def __call__(self):
        self.calls += 1
        return self.calls > self.polls


@pytest.mark.parametrize("how", ["extend_epochs", "interrupted_mid_epoch"])
def test_resume_with_batchnorm_is_bit_identical(tmp_path, how):
    reference = fit(from_dict(copy.deepcopy(BN_RUN)), out=str(tmp_path / "reference"))
    if how == "extend_epochs":
        first = fit(from_dict(with_epochs(BN_RUN, 3)), out=str(tmp_path / "resumed"))
        assert first.summary["stop_reason"] == "completed" and first.summary["epochs"] == 3
    else:  # 1 poll before each epoch and 1 after each of its updates: stop inside epoch 3
        steps = -(-reference.data.splits["train"] // 16)
        first = fit(from_dict(copy.deepcopy(BN_RUN)), out=str(tmp_path / "resumed"),
                    stop_requested=StopAfterPolls(2 * (1 + steps) + 3))
        assert first.summary["stop_reason"] == "interrupted" and first.summary["epochs"] == 2
    resumed = fit(from_dict(copy.deepcopy(BN_RUN)), resume=str(first.run_dir))
    assert resumed.summary["epochs"] == 6 and resumed.summary["stop_reason"] == "completed"
    model = assert_same_model(first.run_dir, reference.run_dir)
    for i in (1, 2, 3):  # the running statistics are in model.npz and were trained
        assert model[f"running_mean{i}"].shape == model[f"gamma{i}"].shape
        assert not np.allclose(model[f"running_mean{i}"], 0) and not np.allclose(model[f"running_var{i}"], 1)
    for split in ("train", "validation", "test"):
        assert resumed.summary[split] == reference.summary[split], split


# --- 6. early stopping / keep: best restore the best epoch's running statistics --------------------------

ES_RUN = {"seed": 0, "data": {"source": "iris"},
          "model": {"hidden": [{"units": 32, "activation": "relu"}, {"type": "batchnorm"},
                               {"type": "residual", "hidden": [{"units": 32, "activation": "relu"},
                                                               {"type": "batchnorm"}]}]},
          "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.05},
          "training": {"mode": "minibatch", "batch_size": 16, "epochs": 40}}
STATE_NAMES = ["running_mean1", "running_var1", "running_mean2", "running_var2"]


@pytest.mark.parametrize("how", ["early_stopping", "keep_best"])
def test_the_best_epochs_running_statistics_are_restored(tmp_path, how):
    training = ({"early_stopping": {"patience": 2, "restore_best": True}} if how == "early_stopping"
                else {"keep": "best", "epochs": 12})
    raw = with_epochs(ES_RUN, training.pop("epochs", 40), **training)
    snapshots, holder = {}, {}
    result = fit(from_dict(copy.deepcopy(raw)), out=str(tmp_path / "run"),
                 on_start=lambda info: holder.update(net=info.net),
                 on_epoch=lambda record: snapshots.update({record.epoch: holder["net"].weights()}))
    s = result.summary
    best, last = s["kept_epoch"], s["epochs"]
    if how == "early_stopping":
        assert s["stop_reason"] == "early_stopping" and last < 40
    assert 1 <= best < last, s
    assert sorted(snapshots) == list(range(1, last + 1))
    model = read_npz(tmp_path / "run" / "model.npz")
    for name, value in snapshots[best].items():
        assert np.array_equal(model[name], value), f"{name}: not the best epoch's ({best})"
    for name in STATE_NAMES:  # the check is not vacuous: the statistics kept moving after the best epoch
        assert not np.array_equal(snapshots[best][name], snapshots[last][name]), name
    # a fresh run that ends at the best epoch leaves the same model
    fresh = fit(from_dict(with_epochs(raw, best)), out=str(tmp_path / "fresh"))
    assert fresh.summary["epochs"] == best and fresh.summary["kept_epoch"] == best
    fresh_model = read_npz(tmp_path / "fresh" / "model.npz")
    for name in snapshots[best]:
        assert np.array_equal(model[name], fresh_model[name]), name
    assert result.summary["validation"] == fresh.summary["validation"]
