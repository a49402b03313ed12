"""Loss functions on the network's raw outputs (logits), means over the batch, and their output deltas.

Each loss is a ``Loss`` record in ``LOSSES``: its value and output delta, how its outputs are read, and what
`gdtrain list losses` and `explain` say about it — ``formula`` (L and δ in one line), ``rule`` (its row of the
table of losses under ``RULE_HEADER``: L as a mean over the batch, its torch name, δ = ∂L/∂z), ``equivalent``
(the torch function or module) and ``context`` (the paragraphs below that bear on it: ``OUTPUT_LAYER``, how the
last layer and the loss share the output non-linearity, and ``SUBGRADIENTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np

from .activations import sigmoid
from .registry import Registry

# What `gdtrain explain` prints about a loss besides its formula (fields of the Loss records below):
RULE_HEADER = "name           L (mean over the batch)                                      δ = ∂L/∂z"
OUTPUT_LAYER = """\
The last layer is linear (z = W a + b). bce, cross_entropy and hinge own the output non-linearity: the
softmax and sigmoid are fused with cross-entropy and BCE and the output delta is the textbook δ = ŷ − y
(divided by the batch size n because the loss is a mean). mse and mae take the network's outputs as ŷ,
after ``model.output_activation`` (identity by default; sigmoid, tanh or softmax, see layers.py).
Conventions follow PyTorch."""
SUBGRADIENTS = """\
mae and hinge are convex but not differentiable everywhere: their δ is a subgradient
(subgradient descent). ``kinks`` tells gradient checking where the non-differentiable points are."""


def row_max(z: np.ndarray) -> np.ndarray:
    """max_k z_k of each row, as a column (n, 1).

    NumPy reduces a row of a few entries slowly (≈ 6 µs for 128 × 10, once per step); over the rows of the
    class-major copy zᵀ it is an element-wise maximum of 10 rows (≈ 1.7 µs with the copy). Same values."""
    if z.shape[1] <= 32:
        return np.ascontiguousarray(z.T).max(axis=0)[:, None]
    return z.max(axis=1, keepdims=True)


def softmax(z: np.ndarray) -> np.ndarray:
    """softmax(z)_k = e^(z_k − max z) / Σ_j e^(z_j − max z), row-wise."""
    e = np.exp(z - row_max(z))
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_sum_exp(z: np.ndarray) -> np.ndarray:
    m = row_max(z)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


@dataclass(frozen=True)
class Loss:
    """A loss on the network's outputs ``z`` (n, outputs) against targets ``y``, and how its outputs are read.

    Classification targets are class indices (n,) of ints; regression targets are floats (n, k).
    ``owns_output``: the output non-linearity the loss has built in ("softmax", "sigmoid"; "scores" for hinge,
    whose outputs are raw class scores), or "" when the network's own ``model.output_activation`` gives ŷ.
    """

    name: str
    task: str  # "classification" or "regression"
    formula: str
    value_and_delta: Callable[[np.ndarray, np.ndarray], Tuple[float, np.ndarray]]
    value: Callable[[np.ndarray, np.ndarray], float]
    predict: Callable[[np.ndarray], np.ndarray]  # ŷ: probabilities or values
    per_sample: Callable[[np.ndarray, np.ndarray], np.ndarray]  # each row's loss; L = their mean
    kinks: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    owns_output: str = ""
    single_logit: bool = False  # two classes from one output (bce): class = z > 0, P(second class) = σ(z)
    rule: str = ""  # its row of the table of losses (under RULE_HEADER): what `gdtrain explain` prints
    equivalent: Optional[str] = None  # the torch function or module that computes the same L
    context: Tuple[str, ...] = ()  # further paragraphs `gdtrain explain` prints (OUTPUT_LAYER, SUBGRADIENTS)

    def n_outputs(self, n_classes: int, n_targets: int) -> int:
        """How many outputs the network needs for this data."""
        if self.single_logit:
            return 1
        return n_classes if self.task == "classification" else n_targets

    def classes(self, z: np.ndarray) -> np.ndarray:
        """Class index per row: z > 0 for a single logit, argmax otherwise."""
        if self.single_logit:
            return (z[:, 0] > 0).astype(np.intp)
        return np.argmax(z, axis=1)

    def class_columns(self, z: np.ndarray, labels: List[str]) -> Tuple[List[str], np.ndarray]:
        """What ``predict`` prints per class: probabilities ``prob_<label>`` where the loss gives them
        (softmax; for one logit p = σ(z) for the second class and 1 − p for the first), else the raw
        ``score_<label>`` (hinge)."""
        z = z.astype(np.float64)
        if self.owns_output == "scores":
            return [f"score_{label}" for label in labels], z
        p = self.predict(z)
        if self.single_logit:
            p = np.hstack([1 - p[:, :1], p[:, :1]])
        return [f"prob_{label}" for label in labels], p

    def head(self) -> str:
        """'softmax + cross_entropy', 'sigmoid + bce', 'mse': what turns outputs into the loss."""
        return f"{self.owns_output} + {self.name}" if self.owns_output in ("softmax", "sigmoid") else self.name


# --- regression -----------------------------------------------------------------------------------

def _mse(z, y):
    return float(np.mean((z - y) ** 2))


def _mse_delta(z, y):
    r = z - y
    return float(np.mean(r * r)), r * (z.dtype.type(2) / r.size)


def _mae(z, y):
    return float(np.mean(np.abs(z - y)))


def _mae_delta(z, y):
    r = z - y
    return float(np.mean(np.abs(r))), np.sign(r) * (z.dtype.type(1) / r.size)


def _mse_rows(z, y):
    return np.mean((z - y) ** 2, axis=1)


def _mae_rows(z, y):
    return np.mean(np.abs(z - y), axis=1)


def _residual_sign(z, y):
    return np.sign(z - y)


# --- binary cross-entropy on one logit ------------------------------------------------------------

def _bce(z, y):
    z, y = z[:, 0], y.astype(z.dtype, copy=False)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def _bce_rows(z, y):
    z, y = z[:, 0], y.astype(z.dtype, copy=False)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def _bce_delta(z, y):
    delta = sigmoid(z)
    delta[:, 0] -= y.astype(z.dtype, copy=False)
    delta *= z.dtype.type(1) / len(z)
    return _bce(z, y), delta


# --- softmax cross-entropy ------------------------------------------------------------------------

def _rows(y):
    return np.arange(len(y))


def _cross_entropy(z, y):
    return float(np.mean(log_sum_exp(z) - z[_rows(y), y]))


def _cross_entropy_rows(z, y):
    return log_sum_exp(z) - z[_rows(y), y]


def _cross_entropy_delta(z, y):
    shifted = z - row_max(z)
    p = np.exp(shifted)
    sums = p.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[_rows(y), y]))  # logsumexp(z) − z_y, exactly
    p /= sums
    p[_rows(y), y] -= 1
    p *= z.dtype.type(1) / len(z)
    return loss, p


# --- multi-class hinge (torch.nn.functional.multi_margin_loss, p=1, margin=1) ---------------------

def _margins(z, y):
    m = 1 - z[_rows(y), y][:, None] + z
    m[_rows(y), y] = 0
    return m


def _hinge(z, y):
    return float(np.maximum(_margins(z, y), 0).sum() / z.size)


def _hinge_rows(z, y):
    return np.maximum(_margins(z, y), 0).sum(axis=1) / z.shape[1]


def _hinge_delta(z, y):
    m = _margins(z, y)
    active = (m > 0).astype(z.dtype)
    loss = float((m * active).sum() / z.size)
    active[_rows(y), y] = -active.sum(axis=1)
    active *= z.dtype.type(1) / z.size
    return loss, active


def _hinge_kinks(z, y):
    return _margins(z, y) > 0


def _class_from_logits(z):
    return z


LOSSES: Registry[Loss] = Registry("loss")
for _loss in (
    Loss("mse", "regression", "L = mean((z − y)²);  δ = 2(z − y)/(nk)", _mse_delta, _mse, lambda z: z, _mse_rows,
         rule="mse            (1/nk) Σ (z − y)²                       (torch mse_loss)     2(z − y)/(nk)",
         equivalent="torch.nn.functional.mse_loss", context=(OUTPUT_LAYER,)),
    Loss("mae", "regression", "L = mean|z − y|;  δ = sign(z − y)/(nk)  (subgradient, 0 at 0)",
         _mae_delta, _mae, lambda z: z, _mae_rows, _residual_sign,
         rule="mae            (1/nk) Σ |z − y|                        (torch l1_loss)      sign(z − y)/(nk), 0 at 0",
         equivalent="torch.nn.functional.l1_loss", context=(OUTPUT_LAYER, SUBGRADIENTS)),
    Loss("bce", "classification", "L = −mean[y log σ(z) + (1 − y) log(1 − σ(z))];  δ = (σ(z) − y)/n",
         _bce_delta, _bce, sigmoid, _bce_rows, owns_output="sigmoid", single_logit=True,
         rule="bce            (1/n) Σ max(z,0) − z·y + log(1 + e^−|z|) (BCEWithLogits)     (σ(z) − y)/n",
         equivalent="torch.nn.BCEWithLogitsLoss", context=(OUTPUT_LAYER,)),
    Loss("cross_entropy", "classification", "L = −mean log softmax(z)_y;  δ = (softmax(z) − onehot(y))/n",
         _cross_entropy_delta, _cross_entropy, softmax, _cross_entropy_rows, owns_output="softmax",
         rule="cross_entropy  (1/n) Σ logsumexp(z) − z_y              (cross_entropy)      (softmax(z) − onehot(y))/n",
         equivalent="torch.nn.functional.cross_entropy", context=(OUTPUT_LAYER,)),
    Loss("hinge", "classification", "L = mean_i (1/K) Σ_{j≠y} max(0, 1 − z_y + z_j)  (subgradient)",
         _hinge_delta, _hinge, _class_from_logits, _hinge_rows, _hinge_kinks, owns_output="scores",
         rule="hinge          (1/nK) Σ_i Σ_{j≠y} max(0, 1 − z_y + z_j) (multi_margin_loss) "
              "+1/(nK) per active margin j,\n"
              "                                                                            −(#active)/(nK) at j = y",
         equivalent="torch.nn.functional.multi_margin_loss", context=(OUTPUT_LAYER, SUBGRADIENTS)),
):
    LOSSES.add(_loss.name, _loss)


def predicted_classes(loss: Loss, z: np.ndarray) -> np.ndarray:
    """Class index per row (``loss.classes``)."""
    return loss.classes(z)
