"""Small one-shot programs evaluated on the host in NumPy, with the bits XLA would give, without
compiling anything.

A model's initialisation, an optimizer's first state and a metric's final value are programs that
run once, on a few thousand values. Compiling them costs far more than running them: the seed
model's three-layer initialisation compiles in ~0.5 s (at LLVM's level 0) and runs in
microseconds. :func:`run_on_host` traces the function to a jaxpr (milliseconds) and evaluates
that jaxpr with NumPy, primitive by primitive. It does so only for primitives whose NumPy result
is the bits XLA computes: integer and bit operations, the Threefry PRNG (keys, splits,
``fold_in``, random bits), data movement, and the IEEE-exact float operations (``+ - * /``,
``sqrt``, comparisons, ``max``/``min``, conversions), with XLA's CPU conventions (subnormals
flushed to zero, +0 as the max of two zeros). Anything else (``exp``, ``erf_inv``, dot
products, reductions, whose results depend on XLA's approximations or summation order) raises
:class:`NotOnHostError`, and the caller compiles instead (:func:`fnn.training.run_once`).

So ``glorot_uniform``, ``he_uniform``, ``RandomUniform``, zeros and ones, the Adam state and an
accuracy's ratio are computed here; a ``he_normal`` kernel is compiled as before. Either way the
values are the same: the tests compare every supported initializer bit for bit with ``jax.jit``.

Example:
    >>> import jax
    >>> from fnn.host import run_on_host
    >>> u = run_on_host(lambda k: jax.random.uniform(k, (2, 3)), jax.random.key(0))
    >>> bool((u == jax.jit(lambda k: jax.random.uniform(k, (2, 3)))(jax.random.key(0))).all())
    True
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["NotOnHostError", "call", "evaluate_jaxpr", "run_on_host", "run_traced", "to_device"]


class NotOnHostError(Exception):
    """The program uses something :func:`run_on_host` cannot compute with XLA's exact bits."""


class HostKeys:
    """PRNG keys on the host, as the evaluator holds them (Threefry-2x32, JAX's default).

    Args:
        data: the keys' raw words: the keys' shape plus a trailing axis of 2 (uint32).
    """

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.asarray(data, np.uint32)

    @property
    def shape(self) -> tuple[int, ...]:
        """The keys' shape (without the trailing axis of the raw words)."""
        return self.data.shape[:-1]


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k1: Any, k2: Any, x1: Any, x2: Any) -> tuple[np.ndarray, np.ndarray]:
    """The Threefry-2x32 block cipher (20 rounds), elementwise over broadcast uint32 arrays.

    Args:
        k1: the key's first words.
        k2: the key's second words.
        x1: the counters' first words.
        x2: the counters' second words.

    Returns:
        The two words of the cipher text, each of the broadcast shape.

    Example:
        >>> a, b = threefry2x32(*(np.zeros(1, np.uint32),) * 4)
        >>> hex(int(a[0])), hex(int(b[0]))  # the Random123 known-answer test
        ('0x6b200159', '0x99ba4efe')
    """
    k1, k2, x1, x2 = np.broadcast_arrays(*(np.asarray(a, np.uint32) for a in (k1, k2, x1, x2)))
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    with np.errstate(over="ignore"):
        a, b = x1 + ks[0], x2 + ks[1]
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                a = a + b
                b = _rotate_left(b, r) ^ a
            a = a + ks[(i + 1) % 3]
            b = b + ks[(i + 2) % 3] + np.uint32(i + 1)
    return a, b


def _iota_2x32(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The flat index of every element of ``shape`` as (high, low) uint32 words."""
    flat = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64).reshape(shape)
    return (flat >> np.uint64(32)).astype(np.uint32), flat.astype(np.uint32)


def _seed(seeds: np.ndarray) -> HostKeys:
    seeds = np.asarray(seeds)
    if seeds.dtype.kind not in "iu":
        raise NotOnHostError(f"a seed of dtype {seeds.dtype}")
    wide = seeds.astype(np.int64 if seeds.dtype.kind == "i" else np.uint64)
    high = (wide >> 32) if seeds.dtype.itemsize == 8 else np.zeros_like(wide)
    return HostKeys(np.stack([high.astype(np.uint32), wide.astype(np.uint32)], axis=-1))


def _hash_counters(keys: HostKeys, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each key's Threefry hash of the counters ``0 .. prod(shape) - 1``, laid out as ``shape``:
    two uint32 arrays of shape ``keys.shape + shape`` (what splits and random bits are made of)."""
    hi, lo = _iota_2x32(shape)
    extra = (1,) * len(shape)
    k1 = keys.data[..., 0].reshape(keys.shape + extra)
    k2 = keys.data[..., 1].reshape(keys.shape + extra)
    return threefry2x32(k1, k2, hi, lo)


def _split(keys: HostKeys, shape: tuple[int, ...]) -> HostKeys:
    return HostKeys(np.stack(_hash_counters(keys, shape), axis=-1))


def _fold_in(keys: HostKeys, msgs: np.ndarray) -> HostKeys:
    msgs = np.asarray(msgs).astype(np.uint32)
    a, b = threefry2x32(keys.data[..., 0], keys.data[..., 1], np.uint32(0), msgs)
    return HostKeys(np.stack([a, b], axis=-1))


def _random_bits(keys: HostKeys, bit_width: int, shape: tuple[int, ...]) -> np.ndarray:
    a, b = _hash_counters(keys, shape)
    if bit_width == 64:
        return (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)
    return (a ^ b).astype(np.dtype(f"uint{bit_width}"))


def _key_impl_is_threefry(x: Any) -> bool:
    """Whether ``x`` (an array or an aval) holds Threefry-2x32 keys (dtype ``key<fry>``)."""
    return "fry" in str(getattr(x, "dtype", ""))


def _shift(x: np.ndarray, s: np.ndarray, left: bool) -> np.ndarray:
    """XLA's logical shifts: a shift by the bit width or more gives 0."""
    x, s = np.asarray(x), np.asarray(s)
    bits = x.dtype.itemsize * 8
    unsigned = x.view(np.dtype(f"uint{bits}")) if x.dtype.kind == "i" else x
    amount = s.astype(unsigned.dtype)
    safe = np.minimum(amount, bits - 1).astype(unsigned.dtype)
    out = (unsigned << safe) if left else (unsigned >> safe)
    out = np.where(amount >= bits, np.zeros((), unsigned.dtype), out).astype(unsigned.dtype)
    return out.view(x.dtype) if x.dtype.kind == "i" else out


def _convert(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind == "f" and dtype.kind in "iu":  # truncation, defined only in range
        if not np.isfinite(x).all():
            raise NotOnHostError("a non-finite float converted to an integer")
        info = np.iinfo(dtype)
        if x.size and (x.min() < info.min or x.max() > info.max):
            raise NotOnHostError("a float out of the integer's range")
    if dtype == np.bool_:
        return x != 0
    return x.astype(dtype)


def _broadcast_in_dim(x: Any, shape: tuple[int, ...], dims: Sequence[int]) -> Any:
    if isinstance(x, HostKeys):
        return HostKeys(_broadcast_in_dim(x.data, (*shape, 2), (*dims, len(shape))))
    x = np.asarray(x)
    expanded = [1] * len(shape)
    for axis, d in enumerate(dims):
        expanded[d] = x.shape[axis]
    return np.broadcast_to(x.reshape(expanded), shape).copy()


def _keys_or_array(op: Callable[[np.ndarray], np.ndarray], x: Any) -> Any:
    """Apply a data-movement op to an array, or to keys' data (the key axis stays last)."""
    return HostKeys(op(x.data)) if isinstance(x, HostKeys) else op(np.asarray(x))


def _slice(x: Any, start: Sequence[int], limit: Sequence[int], strides: Any) -> Any:
    steps = strides or (1,) * len(start)
    index = tuple(slice(a, b, s) for a, b, s in zip(start, limit, steps, strict=True))
    return _keys_or_array(lambda a: a[index], x)


def _select_n(which: np.ndarray, *cases: np.ndarray) -> np.ndarray:
    which = np.asarray(which)
    if which.dtype == np.bool_:
        which = which.astype(np.int32)
    return np.choose(which, [np.asarray(c) for c in cases])


#: The smallest normal number of each float type computed here.
_TINY = {np.dtype(t): np.finfo(t).tiny for t in (np.float32, np.float64)}


def _flush(x: np.ndarray) -> np.ndarray:
    """Subnormal floats to zero of the same sign, as XLA's CPU backend computes (FTZ and DAZ)."""
    x = np.asarray(x)
    tiny = _TINY.get(x.dtype)
    if tiny is None:  # not a float (the float check refused any other float type)
        return x
    small = np.abs(x) < tiny
    return np.where(small, x * 0, x).astype(x.dtype) if small.any() else x


def _maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XLA's max: NaN wins, and of two zeros +0 (NumPy returns either)."""
    both_zero = (a == 0) & (b == 0)
    return np.where(both_zero, a + b, np.maximum(a, b))


def _minimum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XLA's min: NaN wins, and of two zeros -0."""
    both_zero = (a == 0) & (b == 0)
    return np.where(both_zero, -(-a + -b), np.minimum(a, b))


def _float_only(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def op(*xs: np.ndarray) -> np.ndarray:
        if any(np.asarray(x).dtype.kind != "f" for x in xs):
            raise NotOnHostError("an integer division or root")
        return fn(*xs)

    return op


_ELEMENTWISE: dict[str, Callable[..., Any]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _float_only(np.true_divide),
    "max": _maximum,
    "min": _minimum,
    "neg": np.negative,
    "abs": np.abs,
    "sqrt": _float_only(np.sqrt),
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
    "not": np.invert,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "select_n": _select_n,
    "clamp": lambda lo, x, hi: _minimum(_maximum(x, lo), hi),
    "shift_left": lambda x, s: _shift(x, s, left=True),
    "shift_right_logical": lambda x, s: _shift(x, s, left=False),
}

#: The operations XLA's CPU backend runs with subnormal inputs and results flushed to zero
#: (measured: a select fused after a comparison flushes too); negation and absolute value move
#: bits and flush nothing. Only subnormal values see the difference.
_FLUSHING = frozenset(
    {"add", "sub", "mul", "div", "max", "min", "sqrt", "clamp", "select_n"}
    | {"eq", "ne", "lt", "le", "gt", "ge"}
)

_IDENTITY = frozenset(
    {"copy", "copy_p", "sharding_constraint", "optimization_barrier", "random_clone"}
)
#: Primitives that call a jaxpr, and the parameter holding it: evaluated as the jaxpr.
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


#: The float types computed here. XLA's CPU backend computes bfloat16 and float16 in float32 and
#: may keep the excess precision between operations, so their bits are not NumPy's.
_EXACT_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


@functools.cache
def _inexact_but_not_exact(dtype: np.dtype) -> bool:
    return jax.dtypes.issubdtype(dtype, np.inexact) and dtype not in _EXACT_FLOATS


def _check_floats(eqn: Any) -> None:
    for v in (*eqn.invars, *eqn.outvars):
        dtype = getattr(v.aval, "dtype", None)
        if isinstance(dtype, np.dtype) and _inexact_but_not_exact(dtype):
            raise NotOnHostError(f"arithmetic in {dtype}")


def _apply(eqn: Any, args: list[Any]) -> list[Any]:
    """One equation's outputs from its inputs' host values."""
    name, params = eqn.primitive.name, eqn.params
    if name in _CALLS:
        inner = params.get(_CALLS[name])
        if inner is None:
            raise NotOnHostError(f"the call {name} without a jaxpr")
        return evaluate_jaxpr(inner, args)
    _check_floats(eqn)
    if name in _IDENTITY:
        return args
    if name in ("random_seed", "random_split", "random_fold_in", "random_bits", "random_wrap"):
        aval = eqn.outvars[0].aval if name != "random_bits" else eqn.invars[0].aval
        if not _key_impl_is_threefry(aval):
            raise NotOnHostError(f"a PRNG other than threefry2x32 ({aval})")
        if not jax.config.values.get("jax_threefry_partitionable", False):
            raise NotOnHostError("jax_threefry_partitionable is off")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if name in _ELEMENTWISE:
            if any(isinstance(a, HostKeys) for a in args):
                raise NotOnHostError(f"{name} of PRNG keys")
            flush = _flush if name in _FLUSHING else np.asarray
            out = _ELEMENTWISE[name](*(flush(a) for a in args))
            return [flush(np.asarray(out, eqn.outvars[0].aval.dtype))]
        return [_structural(name, params, args, eqn)]


def _structural(name: str, params: dict[str, Any], args: list[Any], eqn: Any) -> Any:
    """The data-movement, conversion and PRNG primitives."""
    x: Any = args[0] if args else None
    if name == "random_seed":
        return _seed(x)
    if name == "random_wrap":
        return HostKeys(x)
    if name == "random_unwrap":
        return x.data.copy()
    if name == "random_split":
        return _split(x, tuple(params["shape"]))
    if name == "random_fold_in":
        keys, msgs = x, np.asarray(args[1])
        shape = np.broadcast_shapes(keys.shape, msgs.shape)
        keys = HostKeys(np.broadcast_to(keys.data, (*shape, 2)))
        return _fold_in(keys, np.broadcast_to(msgs, shape))
    if name == "random_bits":
        return _random_bits(x, int(params["bit_width"]), tuple(params["shape"]))
    if name == "iota":
        shape, dim = tuple(params["shape"]), int(params["dimension"])
        line = np.arange(shape[dim], dtype=params["dtype"])
        return np.broadcast_to(
            line.reshape([-1 if i == dim else 1 for i in range(len(shape))]), shape
        ).copy()
    if name == "convert_element_type":
        return _convert(x, np.dtype(params["new_dtype"]))
    if name == "bitcast_convert_type":
        new = np.dtype(params["new_dtype"])
        x = np.asarray(x)
        if new.itemsize != x.dtype.itemsize:
            raise NotOnHostError("a bitcast between widths")
        return x.view(new)
    if name == "broadcast_in_dim":
        return _broadcast_in_dim(x, tuple(params["shape"]), params["broadcast_dimensions"])
    if name == "reshape":
        if params.get("dimensions") is not None:
            raise NotOnHostError("a reshape with a transposition")
        shape = tuple(params["new_sizes"]) + ((2,) if isinstance(x, HostKeys) else ())
        return _keys_or_array(lambda a: a.reshape(shape), x)
    if name == "squeeze":
        dims = tuple(params["dimensions"])
        return _keys_or_array(lambda a: np.squeeze(a, axis=dims) if dims else a, x)
    if name == "expand_dims":
        dims = tuple(params["dimensions"])
        return _keys_or_array(lambda a: np.expand_dims(a, dims), x)
    if name == "slice":
        return _slice(x, params["start_indices"], params["limit_indices"], params["strides"])
    if name == "concatenate":
        dim = int(params["dimension"])
        if all(isinstance(a, HostKeys) for a in args):
            return HostKeys(np.concatenate([a.data for a in args], axis=dim))
        return np.concatenate([np.asarray(a) for a in args], axis=dim)
    if name == "transpose":
        perm = tuple(params["permutation"])
        return _keys_or_array(lambda a: a.transpose(perm + tuple(range(len(perm), a.ndim))), x)
    raise NotOnHostError(f"the primitive {name}")


def _read(env: dict[Any, Any], v: Any) -> Any:
    if hasattr(v, "val"):  # a literal (jax.extend.core.Literal; importing it costs ~20 ms)
        return np.asarray(v.val, getattr(v.aval, "dtype", None))
    return env[v]


def evaluate_jaxpr(closed: Any, args: Sequence[Any]) -> list[Any]:
    """Evaluate a (closed) jaxpr on host values.

    Args:
        closed: a ``ClosedJaxpr`` (or an open ``Jaxpr`` without constants).
        args: one host value per input variable: NumPy arrays, or :class:`HostKeys`.

    Returns:
        The outputs' host values.

    Raises:
        NotOnHostError: if the jaxpr uses a primitive (or a case of one) not computed here exactly.
    """
    jaxpr = getattr(closed, "jaxpr", closed)
    consts = getattr(closed, "consts", ())
    env: dict[Any, Any] = {}
    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = _to_host(value)
    for var, value in zip(jaxpr.invars, args, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        outs = _apply(eqn, [_read(env, v) for v in eqn.invars])
        for var, value in zip(eqn.outvars, outs, strict=True):
            env[var] = value
    return [_read(env, v) for v in jaxpr.outvars]


def _to_host(x: Any) -> Any:
    """A value as the evaluator holds it: keys as :class:`HostKeys`, arrays as NumPy."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if not _key_impl_is_threefry(x):
            raise NotOnHostError(f"a PRNG other than threefry2x32 ({dtype})")
        return HostKeys(np.asarray(jax.random.key_data(x)))
    return np.asarray(x)


def to_device(values: Any, out_info: Any) -> Any:
    """Host values (NumPy arrays, :class:`HostKeys`) as device arrays shaped like ``out_info``.

    Args:
        values: the flat list of host values.
        out_info: the pytree of ``jax.ShapeDtypeStruct`` the values fill.

    Returns:
        The pytree of ``out_info``'s structure, on the default device; nothing is compiled.
    """
    infos, tree = jax.tree.flatten(out_info)
    leaves = [_place(v, i) for v, i in zip(values, infos, strict=True)]
    return jax.tree.unflatten(tree, leaves)


def _place(value: Any, info: Any) -> jax.Array:
    """One host value on the default device, with ``info``'s dtype (keys wrapped as keys)."""
    if isinstance(value, HostKeys):
        return jax.random.wrap_key_data(jax.device_put(value.data), impl="threefry2x32")
    return jax.device_put(np.asarray(value, info.dtype))


def run_on_host(fun: Callable[..., Any], *args: Any) -> Any:
    """``fun(*args)`` computed in NumPy on the host, bit for bit as ``jax.jit(fun)`` computes it.

    Args:
        fun: a pure function of arrays (and PRNG keys).
        *args: its arguments.

    Returns:
        ``fun(*args)`` with NumPy arrays for arrays (PRNG keys as device key arrays).

    Raises:
        NotOnHostError: if ``fun`` uses something not computed here exactly (see the module's
            docstring); compile it instead.
    """
    traced = jax.jit(fun).trace(*args)
    return run_traced(traced, args, place=False)


def run_traced(traced: Any, args: Sequence[Any], place: bool = True) -> Any:
    """Evaluate an already traced ``jax.jit(fun).trace(*args)`` on the host.

    Args:
        traced: the ``jax.stages.Traced`` of the function.
        args: the arguments it was traced with.
        place: put the results on the default device (else NumPy arrays; keys go to the device
            either way).

    Returns:
        The function's outputs, in its output structure.

    Raises:
        NotOnHostError: as :func:`run_on_host`.
    """
    jaxpr = traced.jaxpr
    flat = [_to_host(a) for a in jax.tree.leaves(args)]
    flat = [  # the dtypes the function was traced for (float64 inputs are float32 without x64)
        a if isinstance(a, HostKeys) else np.asarray(a, v.aval.dtype)
        for a, v in zip(flat, jaxpr.jaxpr.invars, strict=True)
    ]
    values = evaluate_jaxpr(jaxpr, flat)
    if place:
        return to_device(values, traced.out_info)
    infos, tree = jax.tree.flatten(traced.out_info)
    leaves = [
        _place(v, i) if isinstance(v, HostKeys) else np.asarray(v, i.dtype)
        for v, i in zip(values, infos, strict=True)
    ]
    return jax.tree.unflatten(tree, leaves)


#: :func:`call`'s traces, by function and argument types (LRU, :data:`CALL_CACHE_SIZE`): a
#: metric's result is computed at every progress update, and tracing costs ~1 ms each time.
_CALL_TRACES: collections.OrderedDict[Any, Any] = collections.OrderedDict()
CALL_CACHE_SIZE = 256
_EAGER = object()  # the cached verdict for a function the evaluator cannot compute


def _signature(fun: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """What a trace of ``fun(*args)`` depends on, or None when ``fun`` cannot be a key."""
    leaves, tree = jax.tree.flatten(args)
    key = (fun, tree, tuple((type(x), np.shape(x), getattr(x, "dtype", None)) for x in leaves))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def call(fun: Callable[..., Any], *args: Any) -> Any:
    """``fun(*args)``: on the host when :func:`run_on_host` computes it exactly, else as JAX runs
    it (eagerly, op by op). For a function of a few host values, such as a metric's result from
    its fetched state, where eager JAX would compile a small program per operation. The trace
    (or the verdict to run eagerly) is kept per function and argument types, so a repeated call
    costs the evaluation alone; pass the same function object to hit it.

    Args:
        fun: a pure function of arrays.
        *args: its arguments.

    Returns:
        ``fun(*args)`` (NumPy arrays when computed on the host).

    Example:
        >>> import numpy as np
        >>> float(call(lambda a, b: a / b, np.float32(3), np.float32(4)))
        0.75
    """
    key = _signature(fun, args)
    traced = _CALL_TRACES.get(key) if key is not None else None
    if traced is None:
        try:
            traced = jax.jit(fun).trace(*args)
        except Exception:  # not traceable (Python control flow on values): JAX runs it
            traced = _EAGER
    if traced is not _EAGER:
        try:
            out = run_traced(traced, args, place=False)
        except Exception:  # NotOnHostError, or a case the evaluator misses: JAX computes it
            traced = _EAGER
    if key is not None:
        _CALL_TRACES[key] = traced
        _CALL_TRACES.move_to_end(key)
        if len(_CALL_TRACES) > CALL_CACHE_SIZE:
            _CALL_TRACES.popitem(last=False)
    return fun(*args) if traced is _EAGER else out
