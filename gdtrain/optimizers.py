"""Optimizers: in-place update rules over the flat parameter vector, with explicit, named state.

Every optimizer takes the gradient g = ∇θ(J + λR) (after clipping) and the current learning rate η
(from the schedule, so η may change between steps), and updates θ in place. Option names, defaults and
update rules are torch.optim's (checked step for step against PyTorch in the tests; one exception: sgd's
default lr is 0.01, Keras's, where torch's is 0.001 — see ``SGD_LR``); the state is a dict
of named arrays (``momentum_buffer``, ``exp_avg``, ...) plus the step count t, so a checkpoint can save
it and a resumed run continues exactly. All arithmetic stays in the network's dtype.

``weight_decay`` (wd) acts on every parameter, biases included, as in torch: g ← g + wd·θ (AdamW:
θ ← θ(1 − η·wd), decoupled). ``regularization.l2`` is the textbook penalty λΣ‖W‖² on weights only,
already inside g.

Each optimizer is one class, and the class is its record: ``OPTIONS`` (name → default, check, doc), and what
`gdtrain list`, `explain` and `schema` say about it — ``summary`` (one line), ``formula`` (the update rule in
one line), ``rule`` (the rule in full with its variants: what `gdtrain explain NAME` prints under
"from gdtrain/optimizers.py"), ``equivalent`` (the torch.optim class; ``TORCH_DEFAULTS`` where our defaults
differ from it) and ``references`` (keys of ideas.REFERENCES).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from .errors import ConfigError
from .options import Option, boolean, choice, describe_component, number, pair, resolve_options
from .registry import Registry, unknown_name_message


class Optimizer:
    """Base class. Subclasses declare ``OPTIONS`` and implement ``update``; state lives in ``self.state`` (the step
    count t and the named buffers), and ``state_dict`` / ``load_state_dict`` take it out and put it back as a value."""

    OPTIONS: Dict[str, Option] = {}
    TORCH_DEFAULTS: Dict[str, Any] = {}  # torch's default of an option where ours differs (sgd's lr)
    summary = ""  # one line: `gdtrain list optimizers`, the top of `gdtrain explain`, the schema's description
    formula = ""  # the update rule in one line
    rule = ""  # the rule in full, with its variants: what `gdtrain explain` prints under "from gdtrain/optimizers.py"
    equivalent: Optional[str] = None  # the torch.optim class it matches step for step
    references: Tuple[str, ...] = ()  # where the rule comes from: keys of ideas.REFERENCES

    def __init__(self, size: int, dtype=np.float64, **options: Any):
        self.options = dict(options)
        self.size, self.dtype = size, np.dtype(dtype)
        self.state: Dict[str, Any] = {"step": 0}
        self._scratch = np.empty(size, dtype=self.dtype)  # reused every step: no per-step allocation

    def buffer(self, name: str, fill: float = 0.0) -> np.ndarray:
        """The state array ``name`` (created filled with ``fill`` the first time)."""
        if name not in self.state:
            self.state[name] = np.full(self.size, fill, dtype=self.dtype)
        return self.state[name]

    def add_weight_decay(self, params: np.ndarray, grad: np.ndarray) -> None:
        """g ← g + wd·θ (coupled weight decay, on every parameter)."""
        wd = self.options.get("weight_decay", 0.0)
        if wd:
            np.multiply(params, wd, out=self._scratch)
            grad += self._scratch

    def flush_subnormals(self) -> None:
        """Set state entries smaller than the dtype's smallest normal number to 0.

        Where a gradient stays 0 (a dead ReLU unit), momentum and Adam's moments decay geometrically
        (0.9ᵗ, 0.999ᵗ) into subnormal numbers, which many CPUs handle tens of times more slowly. The train
        loop calls this once per epoch; the values flushed are below 1e−38 (float32) or 1e−308 (float64).
        """
        tiny = np.finfo(self.dtype).tiny
        for value in self.state.values():
            if isinstance(value, np.ndarray):
                value[np.abs(value) < tiny] = 0

    def state_dict(self) -> Dict[str, Any]:
        """The state as a value: ``{"step": t, "buffers": {name: array}}``, the arrays copied (as torch.optim's
        ``state_dict()``, optax's named state tuples). A checkpoint stores it; an undone epoch puts it back."""
        buffers = {name: value.copy() for name, value in self.state.items() if isinstance(value, np.ndarray)}
        return {"step": int(self.state["step"]), "buffers": buffers}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Make ``state`` (a ``state_dict()``) this optimizer's state, the arrays copied in this optimizer's dtype.
        A ValueError names a buffer whose length does not fit the parameter vector."""
        buffers = {}
        for name, value in state["buffers"].items():
            array = np.array(value, dtype=self.dtype)  # a copy: the caller's value stays its own
            if array.shape != (self.size,):
                raise ValueError(f"optimizer buffer {name!r} has shape {array.shape}, the parameters ({self.size},)")
            buffers[name] = array
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"optimizer step count {step!r} is not a count")
        self.state = {"step": int(step), **buffers}

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """Update ``params`` in place. ``grad`` may be overwritten (it is recomputed every step)."""
        self.state["step"] += 1
        self.update(params, grad, float(lr), self.state["step"])

    def update(self, params: np.ndarray, grad: np.ndarray, lr: float, t: int) -> None:
        raise NotImplementedError


LR = "learning rate η (the schedule's starting value)"
# sgd's default η. torch.optim.SGD's own is 0.001, which on the small standardized problems gdtrain trains barely
# moves in the epochs a config runs; 0.01 is Keras's SGD default, scikit-learn's SGD eta0 and the value of the
# torch.optim documentation's example (optim.SGD(params, lr=0.01, momentum=0.9)). The other optimizers keep
# torch's defaults (adagrad, rmsprop 0.01; adam, adamw 0.001). One default per optimizer, however it is named.
SGD_LR = 0.01
WEIGHT_DECAY = Option(0.0, number(0), "adds wd·θ to the gradient (every parameter, as torch)")


class SGD(Optimizer):
    """torch.optim.SGD: plain gradient descent, momentum, Nesterov, dampening, weight decay (``rule``)."""

    OPTIONS = {
        "lr": Option(SGD_LR, number(0, low_open=True), LR),
        "momentum": Option(0.0, number(0), "momentum factor μ"),
        "dampening": Option(0.0, number(0, 1), "dampening d of the gradient in the momentum buffer"),
        "nesterov": Option(False, boolean, "Nesterov momentum: step along g + μb"),
        "weight_decay": WEIGHT_DECAY,
        "momentum_form": Option("torch", choice("torch", "textbook"),
                                "torch: b ← μb + g, θ ← θ − ηb;  textbook: v ← μv − ηg, θ ← θ + v"),
    }
    TORCH_DEFAULTS = {"lr": 0.001}
    summary = "torch.optim.SGD: plain gradient descent, momentum, Nesterov, dampening, weight decay."
    formula = "θ ← θ − η b,  b ← μ b + (1 − d) g  (b = g at t = 1; nesterov: θ ← θ − η (g + μ b))"
    equivalent = "torch.optim.SGD"
    references = ("goodfellow", "mahesh")
    rule = """\
sgd (torch.optim.SGD)       options: lr, momentum μ, dampening d, nesterov, weight_decay, momentum_form
    lr defaults to 0.01 (Keras's SGD; torch.optim.SGD's is 0.001), however the optimizer is named
    plain (μ = 0):   θ ← θ − η g                          the textbook θ := θ − η ∇θJ(θ)
    momentum_form: torch (default)
        b ← g  at t = 1,   b ← μ b + (1 − d) g  afterwards
        θ ← θ − η b                     (nesterov: θ ← θ − η (g + μ b))
    momentum_form: textbook  (Goodfellow, Bengio & Courville, Deep Learning, Algorithm 8.2; Uma Mahesh,
                              "Backpropagation and Gradient Descent", §17; Keras SGD, scikit-learn's MLP)
        v ← −η g  at t = 1,   v ← μ v − η (1 − d) g  afterwards
        θ ← θ + v                       (nesterov: θ ← θ + μ v − η g)
    The two are one trajectory while η is constant: v = −η b, because −η b_t = μ(−η b_{t−1}) − η(1 − d) g_t.
    Under a schedule they differ: torch applies today's η to the whole buffer, the textbook form keeps
    each past gradient at the η it was taken with."""

    def update(self, params, grad, lr, t):
        o = self.options
        self.add_weight_decay(params, grad)
        mu = o["momentum"]
        if not mu:
            grad *= lr
            params -= grad
        elif o["momentum_form"] == "textbook":
            self._textbook(params, grad, lr, t, mu)
        else:
            buf = self.buffer("momentum_buffer")
            if t == 1:
                buf[...] = grad
            else:
                buf *= mu
                if o["dampening"]:
                    np.multiply(grad, 1 - o["dampening"], out=self._scratch)
                    buf += self._scratch
                else:
                    buf += grad
            if o["nesterov"]:
                np.multiply(buf, mu, out=self._scratch)
                grad += self._scratch
                grad *= lr
                params -= grad
            else:
                np.multiply(buf, lr, out=self._scratch)
                params -= self._scratch

    def _textbook(self, params, grad, lr, t, mu):
        """v ← μ v − η (1 − d) g (v = −η g at t = 1);  θ ← θ + v, or θ ← θ + μ v − η g with nesterov."""
        velocity = self.buffer("velocity")
        d = self.options["dampening"] if t > 1 else 0.0
        velocity *= mu
        np.multiply(grad, lr * (1 - d), out=self._scratch)
        velocity -= self._scratch
        if self.options["nesterov"]:
            grad *= lr
            params -= grad
            np.multiply(velocity, mu, out=self._scratch)
            params += self._scratch
        else:
            params += velocity


class Adagrad(Optimizer):
    """torch.optim.Adagrad: s ← s + g²;  θ ← θ − η_t g/(√s + ε),  η_t = η/(1 + (t − 1)·lr_decay)."""

    OPTIONS = {
        "lr": Option(0.01, number(0, low_open=True), LR),
        "lr_decay": Option(0.0, number(0), "η_t = η/(1 + (t − 1)·lr_decay)"),
        "weight_decay": WEIGHT_DECAY,
        "initial_accumulator_value": Option(0.0, number(0), "starting value of the sum of squares s"),
        "eps": Option(1e-10, number(0), "ε added to √s"),
    }
    summary = "torch.optim.Adagrad: s ← s + g²;  θ ← θ − η_t g/(√s + ε),  η_t = η/(1 + (t − 1)·lr_decay)."
    formula = "s ← s + g²;  θ ← θ − η/(1 + (t − 1)·lr_decay) · g/(√s + ε)"
    equivalent = "torch.optim.Adagrad"
    rule = """\
adagrad (torch.optim.Adagrad)               options: lr, lr_decay, weight_decay, initial_accumulator_value, eps
    s ← s + g²                          (s starts at initial_accumulator_value)
    θ ← θ − η_t g / (√s + ε),   η_t = η / (1 + (t − 1)·lr_decay)"""

    def update(self, params, grad, lr, t):
        o = self.options
        self.add_weight_decay(params, grad)
        clr = lr / (1 + (t - 1) * o["lr_decay"])
        total = self.buffer("sum", o["initial_accumulator_value"])
        np.multiply(grad, grad, out=self._scratch)
        total += self._scratch
        np.sqrt(total, out=self._scratch)
        self._scratch += o["eps"]
        np.divide(grad, self._scratch, out=grad)
        grad *= clr
        params -= grad


class RMSprop(Optimizer):
    """torch.optim.RMSprop: v ← αv + (1 − α)g²;  θ ← θ − η g/(√v + ε)  (centered, momentum: ``rule``)."""

    OPTIONS = {
        "lr": Option(0.01, number(0, low_open=True), LR),
        "alpha": Option(0.99, number(0, 1), "smoothing constant α of the squared-gradient average"),
        "eps": Option(1e-8, number(0), "ε added to the root mean square"),
        "weight_decay": WEIGHT_DECAY,
        "momentum": Option(0.0, number(0), "momentum factor μ on the scaled step"),
        "centered": Option(False, boolean, "divide by the estimated standard deviation √(v − ḡ²)"),
    }
    summary = "torch.optim.RMSprop: v ← αv + (1 − α)g²;  θ ← θ − η g/(√v + ε)."
    formula = "v ← αv + (1 − α)g²;  θ ← θ − η g/(√v + ε)   (centered: √(v − ḡ²); momentum: b ← μb + g/D)"
    equivalent = "torch.optim.RMSprop"
    rule = """\
rmsprop (torch.optim.RMSprop)               options: lr, alpha α, eps, weight_decay, momentum μ, centered
    v ← α v + (1 − α) g²
    centered:  ḡ ← α ḡ + (1 − α) g,   D = √(v − ḡ²) + ε;      else  D = √v + ε
    μ > 0:     b ← μ b + g / D,   θ ← θ − η b;                 else  θ ← θ − η g / D"""

    def update(self, params, grad, lr, t):
        o = self.options
        alpha = o["alpha"]
        self.add_weight_decay(params, grad)
        square_avg = self.buffer("square_avg")
        square_avg *= alpha
        np.multiply(grad, grad, out=self._scratch)
        self._scratch *= 1 - alpha
        square_avg += self._scratch
        denom = self._scratch
        if o["centered"]:
            grad_avg = self.buffer("grad_avg")
            grad_avg *= alpha
            np.multiply(grad, 1 - alpha, out=denom)
            grad_avg += denom
            np.multiply(grad_avg, grad_avg, out=denom)
            np.subtract(square_avg, denom, out=denom)
            np.sqrt(denom, out=denom)
        else:
            np.sqrt(square_avg, out=denom)
        denom += o["eps"]
        np.divide(grad, denom, out=grad)  # g/D
        if o["momentum"] > 0:
            buf = self.buffer("momentum_buffer")
            buf *= o["momentum"]
            buf += grad
            np.multiply(buf, lr, out=grad)
        else:
            grad *= lr
        params -= grad


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moments, θ ← θ − η m̂/(√v̂ + ε)  (amsgrad, eps_form: ``rule``)."""

    DECOUPLED = False
    OPTIONS = {
        "lr": Option(0.001, number(0, low_open=True), LR),
        "betas": Option([0.9, 0.999], pair(0, 1), "decay rates (β₁, β₂) of the first and second moments"),
        "eps": Option(1e-8, number(0), "ε added to the root of the second moment"),
        "weight_decay": WEIGHT_DECAY,
        "amsgrad": Option(False, boolean, "use the running maximum of v (AMSGrad)"),
        "eps_form": Option("torch", choice("torch", "hat"),
                           "torch: ε on √v̂ (bias-corrected);  hat: ε̂ on √v, as Keras / scikit-learn"),
    }
    summary = "torch.optim.Adam: bias-corrected moments, θ ← θ − η m̂/(√v̂ + ε)."
    formula = "m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − η m̂/(√v̂ + ε)"
    equivalent = "torch.optim.Adam"
    references = ("kingma",)
    rule = """\
adam (torch.optim.Adam)                     options: lr, betas (β₁, β₂), eps, weight_decay, amsgrad, eps_form
    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²            (amsgrad: v_max ← max(v_max, v), used for v)
    eps_form: torch (default)   θ ← θ − η m̂ / (√v̂ + ε),   m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)
    eps_form: hat               θ ← θ − η_t m / (√v + ε̂),  η_t = η √(1 − β₂ᵗ)/(1 − β₁ᵗ)
    The hat form is Kingma & Ba's "efficient version" (end of their §2) that Keras, TensorFlow and
    scikit-learn use: ε̂ is added to the uncorrected √v, which is ε√(1 − β₂ᵗ) in the torch form — the two
    differ most in the first steps and wherever √v is near ε."""

    # Entries per block: the update makes its passes block by block, so that the five arrays of a block (θ, g, m, v
    # and the scratch) stay in the core's L2 cache from one pass to the next instead of streaming from L3 or
    # memory twelve times (cache_block: L2 / (5 · itemsize), a power of two in [2¹⁴, 2¹⁸]). Measured on the update
    # alone (235k parameters, 2 MiB L2): 0.72x the time of one whole-vector pass in float64, 0.86x in float32
    # (docs/performance.md). ``BLOCK`` is the float32 (largest) block; an instance uses its dtype's.
    BLOCK = 0  # (set below the class)

    def __init__(self, size: int, dtype=np.float64, **options: Any):
        super().__init__(size, dtype, **options)
        self.block = cache_block(self.dtype.itemsize, 5)

    def update(self, params, grad, lr, t):
        o = self.options
        beta1, beta2 = o["betas"]
        if self.DECOUPLED:
            if o["weight_decay"]:
                params *= 1 - lr * o["weight_decay"]
        else:
            self.add_weight_decay(params, grad)
        bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
        # torch's η m̂/(√v̂ + ε) = η(√bias2/bias1) · m/(√v + ε√bias2): the bias corrections folded into two scalars
        if o["eps_form"] == "hat":
            eps, step_size = o["eps"], lr * math.sqrt(bias2) / bias1
        else:
            eps, step_size = o["eps"] * math.sqrt(bias2), lr * math.sqrt(bias2) / bias1
        m, v = self.buffer("exp_avg"), self.buffer("exp_avg_sq")
        v_max = self.buffer("max_exp_avg_sq") if o["amsgrad"] else None
        for start in range(0, self.size, self.block):
            block = slice(start, start + self.block)
            self._adam_block(params[block], grad[block], m[block], v[block], self._scratch[block],
                             None if v_max is None else v_max[block], beta1, beta2, eps, step_size)

    @staticmethod
    def _adam_block(params, grad, m, v, scratch, v_max, beta1, beta2, eps, step_size):
        """v ← β₂v + (1 − β₂)g²;  m ← β₁m + (1 − β₁)g;  θ ← θ − step · m/(√v + ε), in place on one block.

        Twelve in-place ufunc passes, the fewest NumPy's two-operand ufuncs allow while m and v are torch's
        exp_avg and exp_avg_sq. v comes first, so that g itself (free once g² is taken) holds (1 − β₁)g:
        the scratch array is touched four times instead of six.
        """
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        v *= beta2
        v += scratch
        if v_max is not None:
            v = np.maximum(v_max, v, out=v_max)
        grad *= 1 - beta1
        m *= beta1
        m += grad
        np.sqrt(v, out=scratch)
        scratch += eps
        np.divide(m, scratch, out=grad)
        grad *= step_size
        params -= grad


def l2_cache_bytes() -> int:
    """The L2 (per-core) cache size Linux reports for CPU 0; 512 KiB where it reports none."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "2" and (index / "type").read_text().strip() != "Instruction":
                text = (index / "size").read_text().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
                return int(text.rstrip("KM")) * scale
        except (OSError, ValueError):
            continue
    return 512 << 10


def cache_block(itemsize: int, arrays: int) -> int:
    """Entries per block so that ``arrays`` arrays of a block fill the L2 cache: a power of two in [2¹⁴, 2¹⁸]
    (below 2¹⁴ the per-call cost of a dozen ufuncs per block outweighs the cache)."""
    entries = l2_cache_bytes() // (arrays * itemsize)
    return 1 << min(18, max(14, entries.bit_length() - 1))


Adam.BLOCK = cache_block(4, 5)


class AdamW(Adam):
    """torch.optim.AdamW: θ ← θ(1 − η·wd), then the Adam step without weight decay in g."""

    DECOUPLED = True
    OPTIONS = {**Adam.OPTIONS,
               "weight_decay": Option(0.01, number(0), "decoupled decay: θ ← θ(1 − η·wd) before each step")}
    summary = "torch.optim.AdamW: θ ← θ(1 − η·wd), then the Adam step without weight decay in g."
    formula = "θ ← θ(1 − η·wd);  then adam's step with g (no decay in the moments)"
    equivalent = "torch.optim.AdamW"
    rule = """\
adamw (torch.optim.AdamW)                   as adam, weight_decay defaults to 0.01 and is decoupled:
    θ ← θ (1 − η·wd)  before the Adam step (not added to g)"""


OPTIMIZERS: Registry[type] = Registry("optimizer")
for _name, _cls in (("sgd", SGD), ("adagrad", Adagrad), ("rmsprop", RMSprop), ("adam", Adam), ("adamw", AdamW)):
    OPTIMIZERS.add(_name, _cls)
# Named presets: (optimizer, options that differ from its defaults).
ALIASES: Dict[str, tuple] = {
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
}


def resolve_optimizer(spec: Mapping[str, Any], path: str = "optimizer") -> Dict[str, Any]:
    """``{name, **options}`` with the alias expanded, defaults filled and values checked."""
    spec = dict(spec)
    name = spec.pop("name", "sgd")
    if isinstance(name, str) and name in ALIASES:
        name, preset = ALIASES[name]
        spec = {**preset, **spec}
    if not isinstance(name, str) or name not in OPTIMIZERS:  # the aliases are names too: suggested and listed
        raise ConfigError(f"{path}.name: {unknown_name_message('optimizer', name, [*OPTIMIZERS, *ALIASES])}")
    cls = OPTIMIZERS.get(name, f"{path}.name")
    options = resolve_options(cls.OPTIONS, spec, path, f"optimizer '{name}'")
    if "betas" in options:
        options["betas"] = [float(b) for b in options["betas"]]
    if name == "sgd" and options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
        raise ConfigError(f"{path}.nesterov: needs momentum > 0 and dampening 0 (as torch.optim.SGD)")
    return {"name": name, **options}


def make_optimizer(spec: Mapping[str, Any], size: int, dtype) -> Optimizer:
    """An optimizer from a resolved spec (see ``resolve_optimizer``)."""
    options = dict(spec)
    name = options.pop("name")
    options.pop("lr", None)  # the learning rate comes from the schedule at every step
    return OPTIMIZERS.get(name)(size, dtype, **options)


def describe_optimizer(spec: Mapping[str, Any]) -> str:
    """'sgd(lr=0.001, momentum=0.9)': a resolved optimizer spec and the options that differ from its defaults."""
    return describe_component(spec, OPTIMIZERS.get(spec["name"]).OPTIONS)
