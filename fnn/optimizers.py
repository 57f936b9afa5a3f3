"""Optimizers: Optax gradient transformations with Keras's names and default learning rates.

Every constructor wraps its Optax optimizer in ``optax.inject_hyperparams``, so the learning rate
lives in the optimizer state (``opt_state.hyperparams["learning_rate"]``) and callbacks can change
it between epochs without recompiling. A learning rate may also be an Optax schedule. Any
``optax.GradientTransformation`` is accepted where a name is::

    >>> from fnn import optimizers
    >>> opt = optimizers.get("adam")
    >>> round(optimizers.learning_rate(opt.init({"w": 0.0})), 6)
    0.001
"""

from __future__ import annotations

import inspect
import math
import numbers
import textwrap
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn.registry import Registry

LearningRate = float | Callable[[jax.Array], jax.Array]


class NamedOptimizer(optax.GradientTransformationExtraArgs):
    """An Optax transformation that remembers the fnn constructor and arguments that built it.

    ``class_name`` and ``config`` let :mod:`fnn.saving` store the optimizer by name and rebuild it.
    It is an ordinary ``optax.GradientTransformation`` in every other respect.
    """

    class_name: str
    config: dict[str, Any]


class KerasAdamState(NamedTuple):
    """State of :func:`scale_by_keras_adam`."""

    # Named like Optax's own states' step counters (a saved state's key); shadows tuple.count.
    count: jax.Array  # type: ignore[assignment]
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_keras_adam(
    beta_1: float, beta_2: float, epsilon: float, amsgrad: bool = False
) -> optax.GradientTransformation:
    """Keras's Adam direction: ``sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``.

    Keras adds ``epsilon`` to the square root of the *uncorrected* second moment (Optax adds it
    to the corrected one), so the two differ for a large ``epsilon``. With ``amsgrad`` the
    running maximum of ``v`` replaces ``v``.

    Args:
        beta_1: decay of the first-moment (mean gradient) estimate ``m``, in [0, 1).
        beta_2: decay of the second-moment (mean squared gradient) estimate ``v``, in [0, 1).
        epsilon: added to ``sqrt(v)`` in the denominator, for numerical stability.
        amsgrad: divide by the running maximum of ``v`` (AMSGrad) instead of ``v``.

    Returns:
        An Optax transformation with a :class:`KerasAdamState`; its updates are the direction
        only (not yet scaled by ``-learning_rate``), in each gradient's dtype.
    """

    def init(params: Any) -> KerasAdamState:
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return KerasAdamState(jnp.zeros((), jnp.int32), zeros, zeros, zeros)

    def update(updates: Any, state: KerasAdamState, params: Any = None) -> tuple[Any, Any]:
        del params
        count = state.count + 1
        t = count.astype(jnp.float32)
        mu = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - beta_1), state.mu, updates)
        nu = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - beta_2), state.nu, updates)
        nu_max = jax.tree_util.tree_map(jnp.maximum, state.nu_max, nu) if amsgrad else state.nu_max
        alpha = jnp.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        out = jax.tree_util.tree_map(
            lambda m, v: (alpha * m / (jnp.sqrt(v) + epsilon)).astype(m.dtype),
            mu,
            nu_max if amsgrad else nu,
        )
        return out, KerasAdamState(count, mu, nu, nu_max)

    return optax.GradientTransformation(init, update)


class KerasNadamState(NamedTuple):
    """State of :func:`scale_by_keras_nadam`."""

    # Named like Optax's own states' step counters (a saved state's key); shadows tuple.count.
    count: jax.Array  # type: ignore[assignment]
    u_product: jax.Array
    mu: Any
    nu: Any


def scale_by_keras_nadam(
    beta_1: float, beta_2: float, epsilon: float
) -> optax.GradientTransformation:
    """Keras's Nadam direction (Dozat's momentum schedule ``beta_1 (1 - 0.5 * 0.96^t)``).

    Optax's ``nadam`` uses a constant ``beta_1``; its first step is about 39% larger.

    Args:
        beta_1: the base of the first-moment decay schedule, in [0, 1).
        beta_2: decay of the second-moment (mean squared gradient) estimate, in [0, 1).
        epsilon: added to the square root of the bias-corrected second moment, for numerical
            stability.

    Returns:
        An Optax transformation with a :class:`KerasNadamState`; its updates are the direction
        only (not yet scaled by ``-learning_rate``), in each gradient's dtype.
    """

    def init(params: Any) -> KerasNadamState:
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return KerasNadamState(jnp.zeros((), jnp.int32), jnp.ones((), jnp.float32), zeros, zeros)

    def update(updates: Any, state: KerasNadamState, params: Any = None) -> tuple[Any, Any]:
        del params
        count = state.count + 1
        t = count.astype(jnp.float32)
        u_t = beta_1 * (1.0 - 0.5 * 0.96**t)
        u_next = beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_product = state.u_product * u_t
        u_product_next = u_product * u_next
        mu = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - beta_1), state.mu, updates)
        nu = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - beta_2), state.nu, updates)

        def step(m: jax.Array, v: jax.Array, g: jax.Array) -> jax.Array:
            m_hat = u_next * m / (1 - u_product_next) + (1 - u_t) * g / (1 - u_product)
            v_hat = v / (1 - beta_2**t)
            return (m_hat / (jnp.sqrt(v_hat) + epsilon)).astype(g.dtype)

        out = jax.tree_util.tree_map(step, mu, nu, updates)
        return out, KerasNadamState(count, u_product, mu, nu)

    return optax.GradientTransformation(init, update)


class EmaState(NamedTuple):
    """State of :func:`parameter_ema`: the moving average of the parameters."""

    # Named like Optax's own states' step counters (a saved state's key); shadows tuple.count.
    count: jax.Array  # type: ignore[assignment]
    ema: Any


def parameter_ema(
    momentum: float, overwrite_frequency: int | None = None
) -> optax.GradientTransformation:
    """Keras's ``use_ema``: keep ``ema = momentum * ema + (1 - momentum) * new_params``.

    Applied last, on the final updates. Every ``overwrite_frequency`` steps the parameters are
    replaced by the average (Keras); :func:`ema_weights` reads it from an optimizer state. The
    first step starts the average at the new parameters.

    Args:
        momentum: the average's decay, in [0, 1] (Keras's ``ema_momentum``, default 0.99).
        overwrite_frequency: every that many steps the update is changed so that the
            parameters become the average; None or 0: never (``fit`` writes the average into
            the weights when it ends).

    Returns:
        An Optax transformation with an :class:`EmaState`. Its ``update`` needs ``params``
        (a ``ValueError`` without them) and passes the updates through unchanged on other
        steps.
    """

    def init(params: Any) -> EmaState:
        return EmaState(jnp.zeros((), jnp.int32), jax.tree_util.tree_map(jnp.asarray, params))

    def update(updates: Any, state: EmaState, params: Any = None) -> tuple[Any, Any]:
        if params is None:
            raise ValueError("use_ema needs the parameters: call update(grads, state, params).")
        count = state.count + 1
        new = optax.apply_updates(params, updates)
        m = jnp.where(count == 1, 0.0, momentum)  # Keras: the first step starts the average
        ema = jax.tree_util.tree_map(
            lambda a, p: (m * a + (1 - m) * p).astype(a.dtype), state.ema, new
        )
        if overwrite_frequency:
            swap = count % overwrite_frequency == 0
            updates = jax.tree_util.tree_map(
                lambda u, a, p: jnp.where(swap, a - p, u).astype(u.dtype), updates, ema, params
            )
        return updates, EmaState(count, ema)

    return optax.GradientTransformation(init, update)


def ema_weights(opt_state: Any) -> Any | None:
    """The moving average of the parameters kept by ``use_ema=True``, or None without it.

    Keras (and fnn's ``fit``) writes it into the model's weights when ``fit`` ends.

    Args:
        opt_state: an optimizer state (any pytree), e.g. ``model.opt_state``.

    Returns:
        The average, a pytree shaped like the parameters, from the first :class:`EmaState` in
        ``opt_state``; None if there is none.
    """
    found = [
        s
        for s in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, EmaState))
        if isinstance(s, EmaState)
    ]
    return found[0].ema if found else None


def _clip_each_by_norm(clipnorm: float) -> optax.GradientTransformation:
    """Keras's ``clipnorm``: each gradient array scaled to an L2 norm of at most ``clipnorm``."""

    def clip(updates: Any, params: Any = None) -> Any:
        del params

        def one(g: jax.Array) -> jax.Array:
            norm = jnp.sqrt(jnp.sum(jnp.square(g)))
            return (g * clipnorm / jnp.maximum(norm, clipnorm)).astype(g.dtype)

        return jax.tree_util.tree_map(one, updates)

    return optax.stateless(clip)


# Keras 3's arguments shared by every optimizer, with its defaults.
COMMON_ARGUMENTS: dict[str, Any] = {
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "gradient_accumulation_steps": None,
}
_STATIC = ("ema_overwrite_frequency", "gradient_accumulation_steps")


def _assemble(direction: optax.GradientTransformation, hp: dict[str, Any]) -> Any:
    """clip → direction → decoupled weight decay → ``-learning_rate`` → EMA (→ accumulate)."""
    parts = []
    if hp["clipnorm"] is not None:
        parts.append(_clip_each_by_norm(hp["clipnorm"]))
    if hp["global_clipnorm"] is not None:
        parts.append(optax.clip_by_global_norm(hp["global_clipnorm"]))
    if hp["clipvalue"] is not None:
        parts.append(optax.clip(hp["clipvalue"]))
    parts.append(direction)
    if hp["weight_decay"] is not None:  # Keras: w -= learning_rate * weight_decay * w
        parts.append(optax.add_decayed_weights(hp["weight_decay"]))
    parts.append(optax.scale_by_learning_rate(hp["learning_rate"]))
    if hp["use_ema"]:
        parts.append(parameter_ema(hp["ema_momentum"], hp["ema_overwrite_frequency"]))
    tx = optax.chain(*parts)
    steps = hp["gradient_accumulation_steps"]
    return optax.MultiSteps(tx, steps).gradient_transformation() if steps else tx


def _number(value: Any, argument: str, optimizer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{optimizer}({argument}=...) must be a number, got {type(value).__name__}: {value!r}."
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"{optimizer}({argument}=...) must be finite, got {value!r}.")
    return float(value)


def _check(optimizer: str, config: dict[str, Any]) -> None:
    """Issue 14: every hyperparameter checked where it enters, naming the argument."""
    lr = config["learning_rate"]
    if not callable(lr):  # a schedule is checked by Optax when it runs
        scalar = isinstance(lr, (jax.Array, np.ndarray)) and np.ndim(lr) == 0
        if _number(lr.item() if scalar else lr, "learning_rate", optimizer) < 0:
            raise ValueError(f"{optimizer}(learning_rate=...) must be >= 0, got {lr!r}.")
    ranges = {
        "beta_1": (0.0, 1.0, False),
        "beta_2": (0.0, 1.0, False),
        "momentum": (0.0, 1.0, True),
        "rho": (0.0, 1.0, True),
        "ema_momentum": (0.0, 1.0, True),
    }
    for name, (low, high, closed) in ranges.items():
        if name in config:
            v = _number(config[name], name, optimizer)
            if not (low <= v <= high if closed else low <= v < high):
                bracket = "]" if closed else ")"
                raise ValueError(
                    f"{optimizer}({name}=...) must be in [{low:g}, {high:g}{bracket}, got {v!r}."
                )
    for name in ("epsilon", "initial_accumulator_value"):
        if name in config and _number(config[name], name, optimizer) < 0:
            raise ValueError(f"{optimizer}({name}=...) must be >= 0, got {config[name]!r}.")
    wd = config["weight_decay"]
    if wd is None and optimizer == "AdamW":
        raise ValueError("AdamW(weight_decay=...) must be a number >= 0, got None.")
    if wd is not None and _number(wd, "weight_decay", optimizer) < 0:
        raise ValueError(f"{optimizer}(weight_decay=...) must be >= 0, got {wd!r}.")
    clips = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if config[k] is not None]
    for name in clips:
        if _number(config[name], name, optimizer) <= 0:
            raise ValueError(f"{optimizer}({name}=...) must be > 0, got {config[name]!r}.")
    if len(clips) > 1:
        raise ValueError(
            f"{optimizer}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
            f"{', '.join(clips)}."
        )
    for name, low in (("gradient_accumulation_steps", 2), ("ema_overwrite_frequency", 1)):
        v = config[name]
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low
        ):
            raise ValueError(f"{optimizer}({name}=...) must be an int >= {low} or None, got {v!r}.")
    for name in ("use_ema", "amsgrad", "nesterov", "centered"):
        if name in config and not isinstance(config[name], bool):
            raise TypeError(f"{optimizer}({name}=...) must be a bool, got {config[name]!r}.")


def _optimizer(
    name: str,
    learning_rate: float,
    specific: dict[str, Any],
    direction: Callable[..., optax.GradientTransformation],
    doc: str,
    argument_docs: dict[str, str] | None = None,
) -> Callable[..., NamedOptimizer]:
    """Build a Keras-spelled optimizer constructor ``name(learning_rate, *specific, *common)``.

    The result wraps everything in ``optax.inject_hyperparams``: every numeric argument
    (``learning_rate`` first) lives in the optimizer state. Its docstring is ``doc``, then an
    ``Args:`` section built from :data:`ARGUMENT_DOCS` (``argument_docs`` overriding it) with
    each argument's default, then the common Returns/Raises.
    """
    arguments = {"learning_rate": learning_rate, **specific}
    arguments.update({k: v for k, v in COMMON_ARGUMENTS.items() if k not in specific})
    own = [k for k in specific if k not in COMMON_ARGUMENTS]
    signature = inspect.Signature(
        [
            inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
            for k, v in arguments.items()
        ],
        return_annotation=NamedOptimizer,
    )

    def factory(**hp: Any) -> Any:
        return _assemble(direction(**{k: hp[k] for k in own}), hp)

    factory.__signature__ = signature  # type: ignore[attr-defined]

    def constructor(*args: Any, **kwargs: Any) -> NamedOptimizer:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}; it takes {list(arguments)}.") from None
        bound.apply_defaults()
        config = dict(bound.arguments)
        _check(name, config)
        # A zero momentum, or an unused EMA momentum, stays out of the state (no trace buffer).
        unused = [k for k in ("momentum",) if k in config and _is_zero(config[k])]
        unused += [] if config["use_ema"] else ["ema_momentum"]
        tx = optax.inject_hyperparams(factory, static_args=(*_STATIC, *unused))(**config)
        named = NamedOptimizer(tx.init, tx.update)
        named.class_name, named.config = name, config
        return named

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__signature__ = signature  # type: ignore[attr-defined]
    described = {**ARGUMENT_DOCS, **(argument_docs or {})}
    args = "".join(
        "\n"
        + textwrap.fill(
            f"{k}: {described[k]} Default: ``{v!r}``.",
            width=100,
            initial_indent=" " * 8,
            subsequent_indent=" " * 12,
            break_on_hyphens=False,
        )
        for k, v in arguments.items()
    )
    constructor.__doc__ = f"{doc}\n\n    Args:{args}{_COMMON_DOC}"
    return constructor


#: What each Keras optimizer argument means, for the constructors' ``Args:`` sections.
ARGUMENT_DOCS: dict[str, str] = {
    "learning_rate": "the step size: a float >= 0, or an Optax schedule ``step -> rate``.",
    "momentum": "momentum of the update direction, in [0, 1]; 0 turns it off.",
    "nesterov": "use Nesterov momentum.",
    "beta_1": "decay of the first-moment (mean gradient) estimate, in [0, 1).",
    "beta_2": "decay of the second-moment (mean squared gradient) estimate, in [0, 1).",
    "epsilon": "a small constant >= 0 in the denominator, for numerical stability.",
    "amsgrad": "divide by the running maximum of the second moment (AMSGrad).",
    "rho": "decay of the moving average of squared gradients, in [0, 1].",
    "centered": "divide by the gradient's estimated variance (the squared moving mean "
    "subtracted) instead of its mean square.",
    "initial_accumulator_value": "the starting value (>= 0) of each weight's sum of squared "
    "gradients.",
    "weight_decay": "decoupled weight decay >= 0, ``w -= learning_rate * weight_decay * w`` "
    "each step; None: off.",
    "clipnorm": "clip each gradient array to an L2 norm of at most this (> 0); None: off.",
    "clipvalue": "clip each gradient entry to ``[-clipvalue, clipvalue]`` (> 0); None: off.",
    "global_clipnorm": "scale all gradients together to a global L2 norm of at most this "
    "(> 0); None: off. At most one of ``clipnorm``, ``clipvalue`` and ``global_clipnorm``.",
    "use_ema": "keep an exponential moving average of the weights (see :func:`ema_weights`), "
    "written into the weights when ``fit`` ends.",
    "ema_momentum": "the average's decay in [0, 1]: ``ema = ema_momentum * ema + "
    "(1 - ema_momentum) * w``.",
    "ema_overwrite_frequency": "with ``use_ema``, replace the weights by the average every "
    "that many steps (an int >= 1); None: only when ``fit`` ends.",
    "gradient_accumulation_steps": "an int >= 2: accumulate the gradients and apply their mean "
    "every that many steps (Optax's ``MultiSteps``); None: every step.",
}

_COMMON_DOC = """

    Returns:
        A :class:`NamedOptimizer`: an Optax transformation whose state keeps every numeric
        argument in ``state.hyperparams`` (see :func:`learning_rate`), and which remembers its
        ``class_name`` and ``config`` for saving (see :func:`serialize`).

    Raises:
        TypeError: an argument the optimizer does not take, or one of the wrong type (a string
            learning rate, a non-bool ``amsgrad``).
        ValueError: a value out of range (NaN or negative learning rate, ``beta_1`` outside
            [0, 1), ``momentum`` outside [0, 1], negative ``weight_decay``), more than one of
            the clip arguments, or a bad ``gradient_accumulation_steps`` or
            ``ema_overwrite_frequency``.
"""


def _is_zero(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == 0


def _momentum(momentum: Any, nesterov: bool = False) -> optax.GradientTransformation:
    return optax.identity() if _is_zero(momentum) else optax.trace(momentum, nesterov=nesterov)


def _sgd(momentum: Any, nesterov: bool) -> optax.GradientTransformation:
    return _momentum(momentum, nesterov)


def _rmsprop(rho: Any, momentum: Any, epsilon: Any, centered: bool) -> Any:
    scale = optax.scale_by_stddev if centered else optax.scale_by_rms
    return optax.chain(scale(decay=rho, eps=epsilon), _momentum(momentum))


def _adagrad(initial_accumulator_value: Any, epsilon: Any) -> Any:
    return optax.scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=epsilon)


_ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

SGD = _optimizer(
    "SGD",
    0.01,
    {"momentum": 0.0, "nesterov": False},
    _sgd,
    "Keras's ``SGD``: stochastic gradient descent, ``w -= learning_rate * grad``.\n\n"
    "    With ``momentum``, ``v = momentum * v + grad`` and ``w -= learning_rate * v`` (Keras's\n"
    "    velocity, for a constant learning rate); ``nesterov`` looks one step ahead.\n\n"
    "    Example:\n"
    "        >>> opt = SGD(learning_rate=0.1, momentum=0.9)\n"
    '        >>> state = opt.init({"w": 0.0})\n'
    '        >>> updates, state = opt.update({"w": 1.0}, state, {"w": 0.0})\n'
    '        >>> round(float(updates["w"]), 6)\n'
    "        -0.1",
)
Adam = _optimizer(
    "Adam",
    0.001,
    _ADAM,
    scale_by_keras_adam,
    "Keras's ``Adam``, computed exactly as Keras does (``epsilon`` placement, ``amsgrad``).\n\n"
    "    See :func:`scale_by_keras_adam` for the direction.\n\n"
    "    Example:\n"
    "        >>> opt = Adam(learning_rate=0.01)\n"
    '        >>> state = opt.init({"w": 0.0})\n'
    "        >>> round(learning_rate(state), 6)  # stored in float32\n"
    "        0.01",
)
AdamW = _optimizer(
    "AdamW",
    0.001,
    {"weight_decay": 0.004, **_ADAM},
    scale_by_keras_adam,
    "Keras's ``AdamW``: :func:`Adam` with decoupled weight decay (default 0.004).",
    {
        "weight_decay": "decoupled weight decay >= 0, ``w -= learning_rate * weight_decay * w`` "
        "each step; None is refused."
    },
)
RMSprop = _optimizer(
    "RMSprop",
    0.001,
    {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    _rmsprop,
    "Keras's ``RMSprop``: ``w -= learning_rate * grad / sqrt(ms + epsilon)``, with ``ms`` the\n"
    "    moving average of squared gradients (``epsilon`` inside the square root, as Keras).",
    {"epsilon": "a small constant >= 0 added to ``ms`` inside the square root."},
)
Adagrad = _optimizer(
    "Adagrad",
    0.001,
    {"initial_accumulator_value": 0.1, "epsilon": 1e-7},
    _adagrad,
    "Keras's ``Adagrad``: ``w -= learning_rate * grad / sqrt(acc + epsilon)``, with ``acc``\n"
    "    each weight's running sum of squared gradients.",
    {"epsilon": "a small constant >= 0 added to ``acc`` inside the square root."},
)
Nadam = _optimizer(
    "Nadam",
    0.001,
    {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    scale_by_keras_nadam,
    "Keras's ``Nadam``, computed exactly as Keras does (Dozat's momentum schedule).\n\n"
    "    See :func:`scale_by_keras_nadam` for the direction.",
    {
        "beta_1": "the base of the first-moment decay schedule "
        "``beta_1 * (1 - 0.5 * 0.96^t)``, in [0, 1)."
    },
)


registry: Registry[Callable[..., optax.GradientTransformation]] = Registry("optimizer")
for _fn in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam):
    registry.register(_fn.__name__, _fn)


def get(identifier: str | optax.GradientTransformation) -> optax.GradientTransformation:
    """Resolve an optimizer name (Keras defaults) or pass an Optax transformation through.

    Args:
        identifier: a registered name, case-insensitive (``"sgd"``, ``"adam"``, ``"adamw"``,
            ``"rmsprop"``, ``"adagrad"``, ``"nadam"``), built with Keras's defaults, or any
            ``optax.GradientTransformation`` (returned as it is).

    Returns:
        The optimizer, an ``optax.GradientTransformation`` (a :class:`NamedOptimizer` for a
        name).

    Raises:
        TypeError: ``identifier`` is neither a str nor an Optax transformation.
        ValueError: an unknown name (the message lists the valid ones).

    Example:
        >>> get("sgd").class_name, get("sgd").config["learning_rate"]
        ('SGD', 0.01)
    """
    if isinstance(identifier, str):
        return registry.get(identifier)()
    if isinstance(identifier, optax.GradientTransformation):
        return identifier
    raise TypeError(
        f"optimizer must be a name ({', '.join(registry.names())}) or an "
        f"optax.GradientTransformation, got {type(identifier).__name__}: {identifier!r}."
    )


def learning_rate(opt_state: Any) -> Any:
    """The current learning rate in an ``inject_hyperparams`` state.

    Args:
        opt_state: an optimizer state, e.g. ``model.opt_state`` or ``opt.init(params)``.

    Returns:
        The learning rate: a float, or a NumPy array with one rate per member for a
        population's stacked state; None if the state has no injected learning rate (an Optax
        transformation not built by fnn or ``optax.inject_hyperparams``).
    """
    hyper = getattr(opt_state, "hyperparams", None)
    if hyper is None or "learning_rate" not in hyper:
        return None
    value = np.asarray(hyper["learning_rate"])
    return float(value) if value.ndim == 0 else value


def set_learning_rate(opt_state: Any, value: float) -> Any:
    """Return ``opt_state`` with its injected learning rate set to ``value``.

    The state is not changed in place; the jitted step reads the new rate without recompiling.

    Args:
        opt_state: an optimizer state built by a fnn constructor (or ``inject_hyperparams``).
        value: the new learning rate: a float, or an array with one rate per member for a
            population's stacked state; cast to the stored rate's dtype and broadcast to its
            shape.

    Returns:
        A copy of ``opt_state`` with the new learning rate.

    Raises:
        ValueError: the state has no injected learning rate, or its learning rate is an Optax
            schedule (which sets it every step).

    Example:
        >>> state = set_learning_rate(SGD().init({"w": 0.0}), 0.5)
        >>> learning_rate(state)
        0.5
    """
    hyper = getattr(opt_state, "hyperparams", None)
    if hyper is None or "learning_rate" not in hyper:
        raise ValueError(
            "This optimizer has no injectable learning rate; build it with a fnn.optimizers "
            "constructor or optax.inject_hyperparams."
        )
    if "learning_rate" in (getattr(opt_state, "hyperparams_states", None) or {}):
        raise ValueError(
            "This optimizer's learning rate is an Optax schedule, which sets it every step; "
            "build the optimizer with a float learning rate to change it from a callback."
        )
    old = hyper["learning_rate"]
    new_hyper = dict(hyper)
    new_hyper["learning_rate"] = jax.numpy.broadcast_to(
        jax.numpy.asarray(value, dtype=old.dtype), old.shape
    )
    return opt_state._replace(hyperparams=new_hyper)


def serialize(optimizer: optax.GradientTransformation) -> dict[str, Any] | None:
    """``{"class_name", "config"}`` for an optimizer built by a fnn constructor, else None.

    None means the optimizer cannot be rebuilt from a name: any other Optax transformation, or a
    constructor given a non-numeric argument such as a learning-rate schedule.

    Args:
        optimizer: any Optax transformation.

    Returns:
        ``{"class_name": name, "config": {argument: value}}`` (JSON-able), or None.

    Example:
        >>> serialize(Adam(learning_rate=0.01))["config"]["learning_rate"]
        0.01
    """
    if not isinstance(optimizer, NamedOptimizer):
        return None
    config = dict(optimizer.config)
    # Plain numbers only: a schedule, an array or a NumPy float32 (which inject_hyperparams
    # treats as a static argument, changing the state's structure) cannot be rebuilt by name.
    if not all(v is None or isinstance(v, (bool, int, float)) for v in config.values()):
        return None
    return {"class_name": optimizer.class_name, "config": config}


def deserialize(config: dict[str, Any]) -> optax.GradientTransformation:
    """Inverse of :func:`serialize`: only fnn's registered constructors are called.

    Args:
        config: ``{"class_name": name, "config": {argument: value}}`` as :func:`serialize`
            writes it; the values must be None, bools or numbers.

    Returns:
        A new :class:`NamedOptimizer` built by the named constructor.

    Raises:
        ValueError: ``config["config"]`` is not a dict of plain values, the name is unknown, or
            a value is out of range.
        TypeError: ``config`` is not a dict, ``class_name`` is missing or not a str, an
            argument the constructor does not take, or a value of the wrong type.
    """
    if not isinstance(config, dict):
        raise TypeError(
            "config must be a dict {'class_name': name, 'config': {argument: value}} as "
            "serialize writes it (for a name such as 'adam', use fnn.optimizers.get), got "
            f"{type(config).__name__}: {config!r}."
        )
    kwargs = config.get("config", {})
    if not isinstance(kwargs, dict) or not all(
        v is None or isinstance(v, (bool, int, float)) for v in kwargs.values()
    ):
        raise ValueError(f"Invalid optimizer config {kwargs!r}: expected numbers by name.")
    return registry.get(config.get("class_name"))(**kwargs)
