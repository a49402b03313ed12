"""The ideas the tour teaches, as a table: what `gdtrain explain IDEA` shows besides the components.

A component (an optimizer, a loss, a layer type, ...) is explained from the registry records that run it
(catalog.py). An *idea* — dropout, L2, clipping, the three modes of gradient descent, vanishing
gradients, gradient checking — is spread over several keys and modules, so it is written down here, once,
as data: one ``Idea`` per row with its formula, what it does, the config keys that control it, the shipped
configs and tour stops that show it, the commands to try, and where to read more. Tests check every key
against the config's own tables, every config and command against configs/, every tour stop against the
headings of docs/tour.md and every reference against docs/references.md.

    IDEAS          the table (name → Idea)
    find(name)     the idea called ``name`` or one of its aliases ("l2_regularization" → l2), else None
    TOUR           the tour's stops: number → title (docs/tour.md's headings)
    COMPONENT_TOUR the tour stops that show a component (adam → 6), for its explanation
    REFERENCES     short key → full citation (author, title, publisher, year); mahesh, guide and vidhya are
                   the three articles gdtrain was built from (docs/references.md)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# --- where to read more -----------------------------------------------------------------------------

REFERENCES: Dict[str, str] = {
    "goodfellow": "Ian Goodfellow, Yoshua Bengio and Aaron Courville, Deep Learning (MIT Press, 2016)",
    "nielsen": "Michael Nielsen, Neural Networks and Deep Learning (Determination Press, 2015)",
    "mahesh": "Uma Mahesh, \"Backpropagation and Gradient Descent\" (whitepaper, 30 numbered sections)",
    "guide": "\"Comprehensive guide to Gradient Descent and Backpropagation for Neural Network Training\" "
             "(unsigned blog post, 2024)",
    "vidhya": "an Analytics Vidhya Data Science Blogathon article on the difference between backpropagation and "
              "gradient descent (its title and author are not in the copy used)",
    "nocedal": "Jorge Nocedal and Stephen J. Wright, Numerical Optimization, 2nd ed. (Springer, 2006)",
    "boyd": "Stephen Boyd and Lieven Vandenberghe, Convex Optimization (Cambridge University Press, 2004)",
    "boyd_subgradient": "Stephen Boyd, Lin Xiao and Almir Mutapcic, \"Subgradient Methods\" (lecture notes, "
                        "Stanford EE392o, 2003)",
    "rumelhart": "David E. Rumelhart, Geoffrey E. Hinton and Ronald J. Williams, \"Learning representations by "
                 "back-propagating errors\", Nature 323 (1986)",
    "mazur": "Matt Mazur, \"A Step by Step Backpropagation Example\" (blog post, 2015)",
    "robbins_monro": "Herbert Robbins and Sutton Monro, \"A Stochastic Approximation Method\", Annals of "
                     "Mathematical Statistics 22 (1951)",
    "glorot": "Xavier Glorot and Yoshua Bengio, \"Understanding the difficulty of training deep feedforward "
              "neural networks\", AISTATS (2010)",
    "he_init": "Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun, \"Delving Deep into Rectifiers\", "
               "ICCV (2015)",
    "pascanu": "Razvan Pascanu, Tomas Mikolov and Yoshua Bengio, \"On the difficulty of training recurrent "
               "neural networks\", ICML (2013)",
    "srivastava": "Nitish Srivastava, Geoffrey Hinton, Alex Krizhevsky, Ilya Sutskever and Ruslan "
                  "Salakhutdinov, \"Dropout: A Simple Way to Prevent Neural Networks from Overfitting\", "
                  "JMLR 15 (2014)",
    "prechelt": "Lutz Prechelt, \"Early Stopping — But When?\", in Neural Networks: Tricks of the Trade "
                "(Springer, 1998)",
    "ioffe": "Sergey Ioffe and Christian Szegedy, \"Batch Normalization: Accelerating Deep Network Training "
             "by Reducing Internal Covariate Shift\", ICML (2015)",
    "resnet": "Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun, \"Deep Residual Learning for Image "
              "Recognition\", CVPR (2016)",
    "kingma": "Diederik P. Kingma and Jimmy Ba, \"Adam: A Method for Stochastic Optimization\", ICLR (2015)",
    "loshchilov": "Ilya Loshchilov and Frank Hutter, \"SGDR: Stochastic Gradient Descent with Warm Restarts\", "
                  "ICLR (2017)",
    "lecun": "Yann LeCun, Léon Bottou, Genevieve Orr and Klaus-Robert Müller, \"Efficient BackProp\", in "
             "Neural Networks: Tricks of the Trade (Springer, 1998)",
}


# --- the tour ---------------------------------------------------------------------------------------

TOUR: Dict[int, str] = {
    1: "Gradient descent and backpropagation, working",
    2: "Backpropagation by hand",
    3: "Batch, stochastic and mini-batch gradient descent",
    4: "The learning rate: too small, just right, too large",
    5: "Momentum on an ill-conditioned problem",
    6: "Adam, RMSProp and AdaGrad",
    7: "Learning-rate schedules: step, exponential, cosine",
    8: "Backtracking line search",
    9: "Subgradient descent on a non-differentiable loss",
    10: "Vanishing gradients: a deep sigmoid net against ReLU",
    11: "Curing vanishing gradients: batch normalization and residual connections",
    12: "Exploding gradients tamed by clipping",
    13: "L2 and dropout against overfitting",
    14: "Early stopping",
    15: "Gradient checking catches a wrong gradient",
    16: "Optimizer paths on an ill-conditioned quadratic (κ = 50)",
    17: "The Rosenbrock valley: GD, momentum, Adam and backtracking line search",
    18: "Subgradient descent on |x| + |y|: constant against diminishing steps",
    19: "A saddle point, escaped or not",
}

# components the tour shows (their explanation names the stop)
COMPONENT_TOUR: Dict[str, Tuple[int, ...]] = {
    "sgd": (1, 4), "momentum": (5,), "adam": (6,), "rmsprop": (6,), "adagrad": (6,),
    "step": (7,), "exponential": (7,), "cosine": (7,), "inverse_sqrt": (9,),
    "backtracking": (8,), "mae": (9,), "sigmoid": (10, 11), "relu": (1, 10), "tanh": (15,),
    "batchnorm": (11,), "residual": (11,), "early_stopping": (14,), "cross_entropy": (1,), "mse": (2, 4),
}


# --- the ideas --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Idea:
    """One idea of the tour. ``keys`` are config key paths as `gdtrain list config` prints them
    (``model.hidden[].dropout``); ``commands`` are runnable `gdtrain ...` lines; ``see`` names other ideas or
    components (`gdtrain explain` takes them); ``reading`` pairs a REFERENCES key with a section."""

    name: str
    title: str
    formula: str
    what: str
    keys: Tuple[str, ...] = ()
    configs: Tuple[str, ...] = ()
    tour: Tuple[int, ...] = ()
    commands: Tuple[str, ...] = ()
    see: Tuple[str, ...] = ()
    code: Tuple[str, ...] = ()  # the modules that implement it
    reading: Tuple[Tuple[str, str], ...] = ()
    aliases: Tuple[str, ...] = ()


_IDEAS = (
    Idea(
        "gradient_descent", "gradient descent: step against the gradient",
        "θ := θ − η ∇θ J(θ)",
        "The parameters θ (every W and b) move a small step η against the gradient of the training objective J, "
        "the direction in which J falls fastest, and repeat. gdtrain's plain `optimizer: sgd` is exactly this; "
        "momentum, Adam and the others change how the gradient becomes a step, and the training mode decides "
        "which samples the gradient is taken on.",
        keys=("optimizer", "optimizer.lr", "training.mode", "training.epochs"),
        configs=("quickstart", "iris", "learning_rate"), tour=(1, 4),
        commands=("gdtrain fit quickstart",),
        see=("backpropagation", "learning_rate", "training_modes", "sgd"),
        code=("gdtrain/optimizers.py", "gdtrain/train.py"),
        reading=(("goodfellow", "§4.3 Gradient-Based Optimization"), ("mahesh", "§3 Gradient Descent Basics"),
                 ("vidhya", "")),
        aliases=("gd", "steepest_descent")),
    Idea(
        "backpropagation", "backpropagation: the gradient, layer by layer, by the chain rule",
        "δ(L) = ∂J/∂z(L);  δ(ℓ) = (W(ℓ+1)ᵀ δ(ℓ+1)) ⊙ φ'(z(ℓ));  ∂J/∂W(ℓ) = δ(ℓ) a(ℓ−1)ᵀ,  ∂J/∂b(ℓ) = δ(ℓ)",
        "The forward pass keeps each layer's input a(ℓ−1) and pre-activation z(ℓ); the backward pass starts from "
        "the output's error signal δ (ŷ − y for softmax + cross-entropy and sigmoid + BCE, divided by the batch "
        "size) and carries it down through each layer's weights and activation derivative. One backward pass "
        "costs about as much as one forward pass and gives the gradient of every parameter. In code (batch "
        "first): ∂L/∂W = δᵀ A_prev, ∂L/∂b = Σ_rows δ, ∂L/∂A_prev = δ W. The epoch line's bracket [W1 … WL] "
        "shows each layer's ‖∂J/∂W‖.",
        keys=("model.hidden", "loss"),
        configs=("backprop_by_hand", "quickstart"), tour=(1, 2),
        commands=("gdtrain fit backprop_by_hand", "gdtrain gradcheck backprop_by_hand"),
        see=("gradient_checking", "vanishing_gradients", "gradient_descent"),
        code=("gdtrain/layers.py", "gdtrain/activations.py", "gdtrain/losses.py", "gdtrain/network.py"),
        reading=(("nielsen", "chapter 2, equations BP1-BP4"), ("rumelhart", ""),
                 ("goodfellow", "§6.5 Back-Propagation and Other Differentiation Algorithms"),
                 ("mahesh", "§7-§12"), ("mazur", "")),
        aliases=("backprop", "back_propagation", "chain_rule", "delta_rule")),
    Idea(
        "training_modes", "batch, stochastic and mini-batch gradient descent",
        "batch      θ := θ − η ∇θ J(θ)                                  (all n samples, one step per epoch)\n"
        "sgd        θ := θ − η ∇θ L(yᵢ, f(xᵢ; θ))                       (one sample, n steps per epoch)\n"
        "minibatch  θ := θ − η (1/m) Σ_{i∈B} ∇θ L(yᵢ, f(xᵢ; θ))         (batches B of m = batch_size)",
        "Which samples each gradient is taken on. Full batch gives the exact gradient and a smooth loss curve "
        "but one step per pass over the data; stochastic GD takes a noisy step per sample (many updates, no "
        "vectorization); mini-batches are the vectorized middle ground and the usual choice. The samples are "
        "shuffled afresh every epoch; line search needs batch mode (it compares values of one fixed objective).",
        keys=("training.mode", "training.batch_size", "compare.modes"),
        configs=("modes", "iris", "quickstart"), tour=(3,),
        commands=("gdtrain compare-optimizers modes --modes batch,sgd,minibatch",
                  "gdtrain fit modes --set training.mode=sgd"),
        see=("gradient_descent", "learning_rate", "line_search"),
        code=("gdtrain/train.py",),
        reading=(("goodfellow", "§8.1.3 Batch and Minibatch Algorithms"),
                 ("mahesh", "§4 Variants of Gradient Descent")),
        aliases=("modes", "batch", "batch_gradient_descent", "full_batch", "stochastic",
                 "stochastic_gradient_descent", "minibatch", "mini_batch", "mini_batch_gradient_descent",
                 "batch_size")),
    Idea(
        "learning_rate", "the learning rate η: too small crawls, too large diverges",
        "θ := θ − η ∇J(θ);   on a quadratic with largest curvature L, gradient descent converges only for "
        "η < 2/L",
        "The step size. Too small and the loss crawls down; too large and every step overshoots the minimum and "
        "lands further away, so the loss grows until it overflows (the run stops as diverged). Each optimizer "
        "has its own documented default (`gdtrain list optimizers`); a schedule changes η over the run, a line "
        "search chooses it per step, and `compare-optimizers --tune-lr` picks it per contestant from a grid.",
        keys=("optimizer.lr", "schedule", "compare.tune_lr", "compare.lr_grid", "monitor.rising_epochs"),
        configs=("learning_rate",), tour=(4,),
        commands=("gdtrain fit learning_rate", "gdtrain fit learning_rate --set optimizer.lr=0.001",
                  "gdtrain fit learning_rate --set optimizer.lr=1"),
        see=("learning_rate_schedules", "line_search", "exploding_gradients", "ill_conditioning"),
        code=("gdtrain/optimizers.py", "gdtrain/diagnostics.py"),
        reading=(("goodfellow", "§8.3.1 Stochastic Gradient Descent"),
                 ("boyd", "§9.3 Gradient descent method (convergence for L-smooth, strongly convex functions)"),
                 ("mahesh", "§16 Learning Rate and Optimization Dynamics"), ("guide", "the step size section")),
        aliases=("lr", "step_size", "eta")),
    Idea(
        "ill_conditioning", "ill-conditioning: a long narrow valley, and momentum through it",
        "κ = L/μ (largest / smallest curvature);   momentum: v := βv − η∇J,  θ := θ + v",
        "When the loss curves steeply in some directions and gently in others, the steep ones cap η (η < 2/L) "
        "and along the flat ones plain gradient descent crawls. Standardizing the inputs (data.standardize) "
        "fixes the conditioning itself; momentum builds up speed along the consistent direction and damps the "
        "zig-zag across the valley; adaptive methods rescale each coordinate.",
        keys=("data.standardize", "optimizer.momentum", "optimizer.momentum_form"),
        configs=("ill_conditioned", "quadratic"), tour=(5, 16),
        commands=("gdtrain fit ill_conditioned", "gdtrain fit ill_conditioned --set optimizer.momentum=0"),
        see=("momentum", "nesterov", "adaptive_learning_rates", "learning_rate"),
        code=("gdtrain/optimizers.py", "gdtrain/data/splits.py"),
        reading=(("goodfellow", "§8.2.1 Ill-Conditioning and §8.3.2 Momentum"), ("mahesh", "§17 Momentum")),
        aliases=("condition_number", "conditioning", "ill_conditioned", "standardization")),
    Idea(
        "adaptive_learning_rates", "adaptive methods: a step size per coordinate",
        "AdaGrad  s := s + g²;                      θ := θ − η g / (√s + ε)\n"
        "RMSProp  s := αs + (1 − α)g²;              θ := θ − η g / (√s + ε)\n"
        "Adam     m := β₁m + (1 − β₁)g, v := β₂v + (1 − β₂)g²;  θ := θ − η m̂ / (√v̂ + ε)",
        "Each coordinate's step is divided by a running statistic of its squared gradients, so coordinates "
        "with large, consistent gradients take smaller steps and rare ones larger steps. AdaGrad's sum only "
        "grows (its steps keep shrinking); RMSProp forgets with a moving average; Adam adds momentum and "
        "corrects both averages for their start at zero. `gdtrain explain adam` gives each rule exactly.",
        keys=("optimizer", "optimizer.lr", "compare.optimizers"),
        configs=("adam", "compare"), tour=(6,),
        commands=("gdtrain fit adam", "gdtrain compare-optimizers adam --optimizers adam,rmsprop,adagrad"),
        see=("adam", "rmsprop", "adagrad", "adamw"),
        code=("gdtrain/optimizers.py",),
        reading=(("goodfellow", "§8.5 Algorithms with Adaptive Learning Rates"), ("kingma", ""),
                 ("mahesh", "§18 Adaptive Optimizers")),
        aliases=("adaptive", "adaptive_methods", "adaptive_optimizers")),
    Idea(
        "learning_rate_schedules", "learning-rate schedules: η changes over the run",
        "step  η_t = η₀ γ^⌊t/s⌋;   exponential  η_t = η₀ γᵗ;   cosine  η_t = η_min + ½(η₀ − η_min)(1 + cos(πt/T))",
        "Large steps early explore, small steps late settle. The schedule steps once per epoch (or per update "
        "with `per: step`), may start with a linear warm-up, and reproduces torch.optim.lr_scheduler; the lr "
        "column of the epoch lines and metrics.csv shows the η used. `gdtrain list schedules` lists them all.",
        keys=("schedule",),
        configs=("cosine_warmup",), tour=(7,),
        commands=("gdtrain fit cosine_warmup",
                  "gdtrain fit cosine_warmup --set \"schedule={name: step, step_size: 10, gamma: 0.5}\""),
        see=("cosine", "step", "exponential", "diminishing_step_sizes", "learning_rate"),
        code=("gdtrain/schedules.py",),
        reading=(("loshchilov", ""), ("mahesh", "§16 Learning Rate and Optimization Dynamics")),
        aliases=("lr_schedule", "lr_schedules", "learning_rate_schedule", "annealing", "warmup", "warm_up",
                 "lr_decay")),
    Idea(
        "diminishing_step_sizes", "diminishing step sizes: η_t → 0, slowly enough",
        "Σ_t η_t = ∞  and  Σ_t η_t² < ∞   (e.g. η_t = η₀/(1 + decay·t));   η_t = η₀/√(t + 1) for subgradients",
        "With noisy gradients (SGD) or subgradients a constant step never settles: it keeps bouncing at a "
        "distance proportional to η. A step that shrinks to 0 — but slowly enough that the steps still add up "
        "to an infinite distance — is what the convergence proofs need. gdtrain's `inverse_time` and "
        "`inverse_sqrt` schedules are these rules.",
        keys=("schedule",),
        configs=("subgradient", "l1_subgradient"), tour=(9, 18),
        commands=("gdtrain fit subgradient", "gdtrain fit subgradient --set schedule=constant",
                  "gdtrain fit l1_subgradient --set schedule=constant"),
        see=("inverse_time", "inverse_sqrt", "subgradient_descent", "learning_rate_schedules"),
        code=("gdtrain/schedules.py",),
        reading=(("robbins_monro", ""), ("boyd_subgradient", "the step size rules"),
                 ("guide", "\"Theoretical Guarantees and Convergence\"")),
        aliases=("diminishing_step_size", "diminishing", "decreasing_step_size", "robbins_monro")),
    Idea(
        "line_search", "line search: choose each step's length instead of η",
        "backtracking (Armijo): t ← t₀; while f(θ − t g) > f(θ) − c1 t ‖g‖²: t ← ρ t",
        "Along the descent direction −g, try a step t and shrink it until the objective falls by a sufficient "
        "amount (the Armijo condition), so an accepted step never raises the loss and no learning rate needs "
        "tuning. The strong Wolfe search also asks the slope to have flattened. Full-batch mode only; the lr "
        "column shows the accepted t. `gdtrain explain backtracking` and `gdtrain explain wolfe` give the options.",
        keys=("training.line_search", "training.mode"),
        configs=("line_search", "rosenbrock"), tour=(8, 17),
        commands=("gdtrain fit line_search",
                  "gdtrain fit line_search --set training.line_search=null --set optimizer.lr=0.01",
                  "gdtrain compare-optimizers rosenbrock"),
        see=("backtracking", "wolfe", "convergence", "learning_rate"),
        code=("gdtrain/linesearch.py",),
        reading=(("nocedal", "§3.1, Algorithm 3.1 (backtracking line search)"),
                 ("guide", "\"Line Search and Backtracking Line Search\"")),
        aliases=("backtracking_line_search", "armijo", "wolfe_line_search")),
    Idea(
        "subgradient_descent", "subgradient descent: non-differentiable convex losses",
        "θ := θ − η_t s,  s ∈ ∂J(θ)  (for |r|: s = sign(r), 0 at r = 0);  keep the best iterate",
        "Where a convex loss has a kink (|r| in mae, the hinge's max(0, ·), the L1 penalty) any subgradient "
        "can replace the gradient. It is not a descent method — a step can raise the loss — so it needs a "
        "diminishing step size and keeps the best iterate seen (`training.keep: best`), not the last.",
        keys=("loss", "schedule", "training.keep", "regularization.l1"),
        configs=("subgradient", "l1_subgradient"), tour=(9, 18),
        commands=("gdtrain fit subgradient", "gdtrain fit l1_subgradient"),
        see=("mae", "hinge", "diminishing_step_sizes", "l1"),
        code=("gdtrain/losses.py", "gdtrain/network.py", "gdtrain/train.py"),
        reading=(("boyd_subgradient", ""),
                 ("guide", "\"Subgradient Descent: Handling Non-Differentiable Functions\"")),
        aliases=("subgradient", "subgradients", "subgradient_method", "non_differentiable")),
    Idea(
        "convergence", "convergence criteria: when to stop before the epochs run out",
        "tol_grad  ‖∇J‖ < tol_grad;   tol_step  ‖θ_e − θ_{e−1}‖ < tol_step;   "
        "tol_loss  |L_e − L_{e−p}| / |L_{e−p}| < tol_loss",
        "Each criterion is off unless set; the first one met ends the run and its name becomes the stop "
        "reason. A small gradient norm is the first-order optimality condition ∇J(θ*) = 0; the step and loss "
        "tests say the parameters or the loss stopped moving over the last `patience` epochs.",
        keys=("training.tol_grad", "training.tol_step", "training.tol_loss", "training.patience"),
        configs=("line_search",), tour=(8,),
        commands=("gdtrain fit line_search",),
        see=("line_search", "early_stopping"),
        code=("gdtrain/convergence.py",),
        reading=(("nocedal", "§2.1 (first-order necessary conditions)"),
                 ("guide", "\"Theoretical Guarantees and Convergence\"")),
        aliases=("convergence_criteria", "stopping_criteria", "tol_grad", "tol_loss", "tol_step")),
    Idea(
        "vanishing_gradients", "vanishing gradients: the error signal shrinks on its way back",
        "‖δ(ℓ)‖ ≤ ‖W(ℓ+1)‖ · max|φ'(z(ℓ))| · ‖δ(ℓ+1)‖,  σ'(z) ≤ 1/4:  factors below 1 multiply up with depth",
        "Every layer multiplies the backpropagated error by its weights and by φ'(z); with saturating "
        "activations (σ' ≤ 0.25) those factors are below 1 and the first layers' gradients shrink "
        "exponentially with depth, so they barely learn. The named warning fires when a layer's ‖∂J/∂W‖ falls "
        "below monitor.vanishing_ratio × the last layer's. Cures: ReLU with He initialization, batch "
        "normalization, residual connections.",
        keys=("monitor.vanishing_ratio", "model.hidden[].activation", "model.init"),
        configs=("vanishing", "vanishing_batchnorm", "vanishing_residual"), tour=(10, 11),
        commands=("gdtrain fit vanishing", "gdtrain plot runs/vanishing", "gdtrain fit vanishing_batchnorm",
                  "gdtrain fit vanishing_residual"),
        see=("batchnorm", "residual", "relu", "he_normal", "exploding_gradients", "saturated_units"),
        code=("gdtrain/diagnostics.py", "gdtrain/monitor.py"),
        reading=(("glorot", ""), ("mahesh", "§19 Vanishing Gradients"), ("ioffe", ""), ("resnet", "")),
        aliases=("vanishing", "vanishing_gradient")),
    Idea(
        "exploding_gradients", "exploding gradients: the error signal grows until it overflows",
        "per layer ‖W(ℓ+1)‖ · |φ'| > 1, or η > 2/L on a quadratic: each step multiplies the error by |1 − ηL| > 1",
        "When the factors backpropagation multiplies by are above 1, or the learning rate overshoots, the "
        "gradient and the loss grow from step to step until the numbers overflow. The named warning fires when "
        "the gradient norm exceeds monitor.exploding_factor × its first-epoch value; a run whose loss becomes "
        "non-finite stops as diverged. Cures: gradient clipping, a lower η, better initialization.",
        keys=("monitor.exploding_factor", "clip.norm", "optimizer.lr"),
        configs=("exploding", "learning_rate"), tour=(4, 12),
        commands=("gdtrain fit exploding --set clip.norm=null", "gdtrain fit learning_rate --set optimizer.lr=1"),
        see=("gradient_clipping", "learning_rate", "vanishing_gradients"),
        code=("gdtrain/diagnostics.py", "gdtrain/train.py"),
        reading=(("pascanu", ""), ("mahesh", "§20 Exploding Gradients")),
        aliases=("exploding", "exploding_gradient", "divergence", "diverged")),
    Idea(
        "gradient_clipping", "gradient clipping: cap the step, not the learning rate",
        "norm:  g := g · min(1, c/‖g‖)  (one global norm);   value:  g := clamp(g, −v, v)  (each entry)",
        "Applied after the gradient of (loss + penalty) and before the optimizer, as torch.nn.utils."
        "clip_grad_norm_ / clip_grad_value_ do. With a norm cap no step is longer than η·c, so a too-large "
        "step stays finite; the |g| column is measured before clipping and \"clipped 100%\" says every step was "
        "clipped — clipping bounds the damage of a too-large step rather than fixing it.",
        keys=("clip.norm", "clip.value"),
        configs=("exploding",), tour=(12,),
        commands=("gdtrain fit exploding", "gdtrain fit exploding --set clip.norm=null"),
        see=("exploding_gradients",),
        code=("gdtrain/clipping.py",),
        reading=(("pascanu", "§3.2 Scaling down the gradients"), ("goodfellow", "§10.11.1 Clipping Gradients"),
                 ("mahesh", "§20 Exploding Gradients")),
        aliases=("clipping", "clip", "clip_norm", "clip_value", "gradient_clip", "clip_grad_norm")),
    Idea(
        "overfitting", "overfitting: the training loss falls while the validation loss rises",
        "generalization gap = J_validation(θ) − J_train(θ)",
        "A network with more capacity than the data needs memorizes the training set: its training loss keeps "
        "falling while the loss on held-out data bottoms out and climbs back. The validation split (never "
        "trained on) shows it every epoch; L2, L1, dropout and early stopping are the remedies.",
        keys=("data.validation_split", "data.test_split"),
        configs=("overfitting", "early_stopping"), tour=(13, 14),
        commands=("gdtrain fit overfitting",),
        see=("l2", "l1", "dropout", "early_stopping"),
        code=("gdtrain/data/splits.py", "gdtrain/monitor.py"),
        reading=(("goodfellow", "§5.2 Capacity, Overfitting and Underfitting"), ("prechelt", ""),
                 ("mahesh", "§23 Regularization and Gradient-Based Learning")),
        aliases=("overfit", "generalization", "regularization")),
    Idea(
        "l2", "L2 regularization: a penalty on the weights' size",
        "J_reg(θ) = J(θ) + λ Σ_ℓ ‖W(ℓ)‖²,   ∇_W J_reg = ∇_W J + 2λW   (weights only, not biases)",
        "The penalty's gradient 2λW pulls every weight toward 0 each step (\"weight decay\"), which favours "
        "smoother functions and narrows the generalization gap. `regularization.l2` is this penalty on the "
        "weights; an optimizer's `weight_decay` option is torch's variant (λθ added to the gradient of every "
        "parameter, biases included; decoupled from the gradient in adamw).",
        keys=("regularization.l2", "optimizer.weight_decay"),
        configs=("overfitting", "line_search"), tour=(13,),
        commands=("gdtrain fit overfitting --set regularization.l2=0.001",),
        see=("l1", "dropout", "overfitting", "adamw"),
        code=("gdtrain/network.py",),
        reading=(("goodfellow", "§7.1.1 L2 Parameter Regularization"),
                 ("mahesh", "§23 Regularization and Gradient-Based Learning")),
        aliases=("l2_regularization", "l2_regularisation", "l2_penalty", "ridge", "weight_decay", "tikhonov")),
    Idea(
        "l1", "L1 regularization: a penalty that drives weights to exactly 0",
        "J_reg(θ) = J(θ) + λ₁ Σ_ℓ Σ |W(ℓ)|,   subgradient  λ₁ sign(W)  (0 at W = 0)",
        "The absolute value's constant pull (the same for small and large weights) drives unneeded weights to "
        "0, giving sparse models. It has a kink at 0, so gdtrain adds its subgradient — subgradient descent — "
        "and gradcheck leaves perturbations that cross the kink out.",
        keys=("regularization.l1",),
        configs=(), tour=(),
        commands=("gdtrain fit overfitting --set regularization.l1=0.0001",),
        see=("l2", "subgradient_descent", "overfitting"),
        code=("gdtrain/network.py",),
        reading=(("goodfellow", "§7.1.2 L1 Regularization"),),
        aliases=("l1_regularization", "l1_penalty", "lasso", "sparsity")),
    Idea(
        "dropout", "dropout: train on random thinned networks",
        "training:  a := φ(z) ⊙ m / (1 − p),  m ~ Bernoulli(1 − p);   evaluation:  a := φ(z)",
        "Each hidden unit is dropped with probability p on every training step and the survivors are scaled by "
        "1/(1 − p) (inverted dropout), so evaluation and prediction use the whole network unchanged. Units "
        "cannot rely on each other, which regularizes like an average over many thinned networks. The masks "
        "come from their own seeded random stream, so a run stays reproducible.",
        keys=("model.hidden[].dropout",),
        configs=("overfitting",), tour=(13,),
        commands=("gdtrain fit overfitting --set model.hidden.0.dropout=0.5 --set model.hidden.1.dropout=0.5",),
        see=("l2", "overfitting", "early_stopping"),
        code=("gdtrain/layers.py",),
        reading=(("srivastava", ""), ("goodfellow", "§7.12 Dropout"),
                 ("mahesh", "§23 Regularization and Gradient-Based Learning")),
        aliases=("inverted_dropout", "drop_out")),
    Idea(
        "gradient_checking", "gradient checking: backpropagation against finite differences",
        "∂J/∂θⱼ ≈ [J(θ + ε eⱼ) − J(θ − ε eⱼ)] / (2ε);   rel = max|a − n| / max(|a| + |n|)",
        "Every backpropagated derivative is compared with the central difference of the objective, in float64; "
        "errors around 1e-10 mean the gradient is right, errors near 1 a bug. The truncation error of the "
        "central difference falls as ε², its round-off grows as ε_mach/ε, so ε ≈ 1e-6 balances them. "
        "`--bug NAME` plants a classic mistake for the check to catch.",
        keys=(),
        configs=("iris", "backprop_by_hand", "vanishing_batchnorm"), tour=(2, 15),
        commands=("gdtrain gradcheck iris", "gdtrain gradcheck iris --bug tanh-derivative", "gdtrain gradcheck"),
        see=("backpropagation",),
        code=("gdtrain/gradcheck.py",),
        reading=(("goodfellow", "§11.5 Debugging Strategies"), ("mahesh", "§24 Numerical Gradient Checking")),
        aliases=("gradcheck", "gradient_check", "grad_check", "numerical_gradient", "finite_differences")),
    Idea(
        "dead_relus", "dead ReLUs: units that never switch on",
        "relu'(z) = 0 for z ≤ 0:  a unit with z ≤ 0 on every sample gets ∂J/∂W = 0 and never recovers",
        "A large step (or a bad start) can push a ReLU unit's bias and weights to where it is inactive on every "
        "input; its gradient is then exactly 0 and it stays dead. The named warning fires when at least "
        "monitor.dead_fraction of a ReLU layer's units were inactive on every sample of an epoch. Cures: a "
        "lower η, He initialization, leaky_relu or elu.",
        keys=("monitor.dead_fraction", "model.hidden[].activation"),
        configs=(), tour=(),
        commands=("gdtrain fit quickstart --set data.standardize=false --epochs 5",),
        see=("relu", "leaky_relu", "elu", "he_normal"),
        code=("gdtrain/diagnostics.py", "gdtrain/monitor.py"),
        reading=(("he_init", ""), ("mahesh", "§21 Role of Activation Functions")),
        aliases=("dead_relu", "dying_relu", "dying_relus", "dead_units")),
    Idea(
        "saturated_units", "saturated units: sigmoid and tanh in their flat tails",
        "σ'(z) = σ(z)(1 − σ(z)) → 0 and tanh'(z) = 1 − tanh²(z) → 0 as |z| grows",
        "A sigmoid or tanh unit whose input is large in magnitude sits on a flat tail where its derivative is "
        "nearly 0, so almost no gradient flows through it — a local cause of vanishing gradients. The named "
        "warning fires when at least monitor.saturated_fraction of a layer's activations have φ'(z) < "
        "monitor.saturation_derivative. Cures: standardized inputs, Xavier initialization, a lower η, ReLU.",
        keys=("monitor.saturated_fraction", "monitor.saturation_derivative", "data.standardize"),
        configs=(), tour=(),
        commands=("gdtrain fit vanishing --set data.standardize=false --epochs 3",),
        see=("sigmoid", "tanh", "xavier_uniform", "vanishing_gradients"),
        code=("gdtrain/diagnostics.py", "gdtrain/monitor.py"),
        reading=(("lecun", ""), ("glorot", ""), ("mahesh", "§21 Role of Activation Functions")),
        aliases=("saturation", "saturated", "saturating_activations")),
    Idea(
        "initialization", "initialization: the starting weights set the signal's scale",
        "Xavier  Var(W) = 2/(fan_in + fan_out)   (sigmoid, tanh);   He  Var(W) = 2/fan_in   (ReLU)",
        "Weights too small make the forward signal and the backpropagated error shrink layer by layer; too "
        "large make them grow or saturate the units. Xavier/Glorot keeps the variance about constant through "
        "sigmoid and tanh layers, He doubles it for ReLU, which zeroes half its inputs. gdtrain picks the "
        "initializer per activation unless model.init says otherwise; biases start at 0.",
        keys=("model.init", "model.hidden[].init", "model.init_from", "seed"),
        configs=("vanishing", "backprop_by_hand"), tour=(10,),
        commands=("gdtrain list initializers",),
        see=("he_normal", "xavier_uniform", "vanishing_gradients"),
        code=("gdtrain/init.py",),
        reading=(("glorot", ""), ("he_init", ""), ("goodfellow", "§8.4 Parameter Initialization Strategies")),
        aliases=("init", "weight_initialization", "xavier", "glorot", "kaiming")),
    Idea(
        "saddle_points", "saddle points: a stationary point that is no minimum",
        "∇f(θ*) = 0 with ∇²f(θ*) having a negative eigenvalue;  f = x² − y²:  y_{t+1} = (1 + 2η) y_t",
        "A zero gradient is necessary for a minimum, not sufficient: at a saddle the loss curves up in some "
        "directions and down in others. Gradient descent started exactly on the stable directions never sees "
        "the unstable one and stops there as if it had converged (tol_grad is met); the smallest offset grows "
        "geometrically and the iterate escapes. In networks, saddles and flat regions, not bad local minima, are "
        "what slows training. A 2-D `problem:` shows it directly.",
        keys=("problem", "training.tol_grad"),
        configs=("saddle",), tour=(19,),
        commands=("gdtrain fit saddle", "gdtrain fit saddle --set \"problem.start=[1.0, 1.0e-6]\"",
                  "gdtrain explain saddle"),
        see=("convergence", "ill_conditioning", "adaptive_learning_rates"),
        code=("gdtrain/problems.py",),
        reading=(("goodfellow", "§8.2.3 Plateaus, Saddle Points and Other Flat Regions"),
                 ("nocedal", "§2.1 (second-order conditions)")),
        aliases=("saddle_point", "stationary_points")),
)

IDEAS: Dict[str, Idea] = {idea.name: idea for idea in _IDEAS}
_BY_ALIAS: Dict[str, str] = {alias: idea.name for idea in _IDEAS for alias in idea.aliases}


def _normal(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def find(name: str) -> Optional[Idea]:
    """The idea called ``name`` (any case; '-' or ' ' for '_'), or one of whose aliases it is; else None."""
    key = _normal(name)
    return IDEAS.get(key) or IDEAS.get(_BY_ALIAS.get(key, ""))


def names(aliases: bool = False) -> Tuple[str, ...]:
    """The ideas' names (with ``aliases``, their other spellings too): what `gdtrain explain` also takes."""
    return tuple(IDEAS) + (tuple(_BY_ALIAS) if aliases else ())


def citation(key: str, where: str = "") -> str:
    """'Goodfellow, Bengio and Courville, Deep Learning (MIT Press, 2016), §7.12 Dropout'."""
    return REFERENCES[key] + (f", {where}" if where else "")
