"""Data parallelism on JAX's own machinery: one mesh, the batch sharded, XLA reduces the rest.

Opt in at compile time; ``fit``, ``evaluate`` and ``predict`` are otherwise unchanged::

    >>> import numpy as np
    >>> import fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=3)])
    >>> model.compile("sgd", "mse", distribution=fnn.distributed.DataParallel())
    >>> x = np.ones((16, 3), "float32")
    >>> history = model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
    >>> model.evaluate(x, x[:, :1], batch_size=8, verbose=0) >= 0.0
    True

How it works (:class:`DataParallel`):

- a ``jax.sharding.Mesh`` with one axis (``"batch"``) over the devices;
- parameters, state, optimizer state and the data set are *replicated*: every device holds the
  whole data set, as one device does without a distribution;
- inside the same fused, jitted epoch ``fit`` always runs, each batch is constrained with
  ``jax.lax.with_sharding_constraint`` to ``NamedSharding(mesh, P("batch"))`` (the gathered
  ``(steps, batch, ...)`` array of the epoch on its axis 1), so every device gathers and computes
  only its slice of the batch. The gradient of the batch-mean loss is then a sum over devices,
  and XLA inserts the all-reduce from the sharding annotations: no hand-written collective, no
  second code path, still one program per epoch.

``batch_size`` is the **global** batch: with 8 devices and ``batch_size=256`` each device gets 32
examples a step. It must divide by the number of devices (a ``ValueError`` says so otherwise). The
last, smaller batch of an epoch is sharded when its size divides too, else computed replicated
on every device; either way each example is used once, as on one device. Results therefore
equal a single-device run with the same global batch, up to float rounding (the order of the sums
differs). That includes batch normalization (its statistics are over the global batch; XLA reduces
them too) and dropout (a jitted program's random values do not depend on its sharding).

Several processes (hosts): call :func:`initialize` first in every process, then build and fit
the same model in each, passing each process's **own shard** of the data (the Keras/JAX
convention). The global data set is the concatenation of the shards in process order; fit
shuffles it with one global permutation derived from ``(seed, epoch)``, identical on every
process, so the run equals a single-device fit on the concatenated data. ``predict`` returns the
rows of this process's shard. Every process must make the same calls with the same arguments
(only the data shards differ; shards may differ in length): the processes meet in collectives.
Progress output is printed by process 0 only; anything that writes files (checkpoints, logs)
must check :func:`is_primary` (or use :func:`on_primary`). ``validation_split`` splits each
process's shard, not the global data.

Memory: every device holds the whole data set (as a single device does without a
distribution); the batches, and so the computation, are what is split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from fnn import data as data_lib

__all__ = [
    "DataParallel",
    "Distribution",
    "MemberParallel",
    "get",
    "initialize",
    "is_primary",
    "on_primary",
]

T = TypeVar("T")


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs: Any,
) -> None:
    """Join a multi-process run: ``jax.distributed.initialize`` with the same arguments.

    Call it in every process before anything else touches JAX. On CPU the processes talk over
    gloo (set here). Example for two processes on one machine (process 1 passes ``1``)::

        fnn.distributed.initialize("127.0.0.1:12345", num_processes=2, process_id=0)

    Args:
        coordinator_address: ``"host:port"`` of process 0's coordinator service, the same in
            every process; None: detected from the cluster environment (SLURM, TPU, ...).
        num_processes: the number of processes; None: detected.
        process_id: this process's index in ``[0, num_processes)``; None: detected.
        **kwargs: passed on to ``jax.distributed.initialize`` (e.g. ``local_device_ids``,
            ``initialization_timeout``).
    """
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)


def is_primary() -> bool:
    """Whether this is process 0, the one that writes files and logs.

    Returns:
        True in process 0 (always, in a single-process run), False in every other process.

    Example:
        >>> is_primary()
        True
    """
    return jax.process_index() == 0


def on_primary(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn(*args, **kwargs)`` in process 0 only (e.g. to write a file); ``None`` elsewhere.

    Args:
        fn: the function to call.
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Returns:
        ``fn``'s result in process 0; None in every other process (``fn`` is not called).

    Example:
        >>> on_primary(max, 2, 3)
        3
    """
    return fn(*args, **kwargs) if is_primary() else None


class Distribution:
    """How a model places data and compiles its loops. This base is the default: one device.

    The facade calls these hooks; a subclass overrides them. Each default does exactly what
    ``Sequential`` does without a distribution. ``compile(distribution=None)`` uses an instance
    of this class (see :func:`get`).
    """

    def check_batch_size(self, batch_size: int, argument: str = "batch_size") -> None:
        """Raise a ``ValueError`` when ``batch_size`` cannot be split across the devices.

        The default accepts every batch size.

        Args:
            batch_size: the global batch size.
            argument: the argument's name, for the error message.
        """

    def num_examples(self, local_count: int) -> int:
        """The number of examples of the global data set, given this process's count.

        Args:
            local_count: the number of examples in this process's shard of the data.

        Returns:
            The global count (the default, one process: ``local_count``).
        """
        return local_count

    def place(
        self, arrays: list[np.ndarray | None], batch_size: int, max_device_bytes: int | None
    ) -> data_lib.Placement:
        """Put this process's arrays on the device(s) as the global data.

        See :func:`fnn.data.place`: whole, or streamed in chunks above ``max_device_bytes``.

        Args:
            arrays: this process's data arrays (inputs, targets, sample weights; None where
                absent), examples on axis 0.
            batch_size: the global batch size (chunks are a multiple of it).
            max_device_bytes: the most bytes of data kept on the device at once; None: no
                limit (the data set is placed whole).

        Returns:
            The :class:`fnn.data.Placement` of the data set.

        Raises:
            ValueError: ``max_device_bytes`` cannot hold one batch.
        """
        return data_lib.place(arrays, batch_size, max_device_bytes)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Compile one of the fused loops of :mod:`fnn.training`.

        Args:
            fn: the loop function to compile.

        Returns:
            The compiled function (the default: ``jax.jit(fn)``).
        """
        return jax.jit(fn)

    def shard_batch(self, arrays: tuple[Any, ...], axis: int) -> tuple[Any, ...]:
        """Annotate batch arrays (traced, inside the loop) whose batch axis is ``axis``.

        Args:
            arrays: the batch's arrays (None where absent), traced inside a jitted loop.
            axis: the batch axis of every array (1 for an epoch's gathered
                ``(steps, batch, ...)`` arrays).

        Returns:
            The arrays, annotated with their sharding (the default: unchanged).
        """
        return arrays

    def fetch_rows(self, y: jax.Array, local_count: int) -> np.ndarray:
        """``predict``'s output for this process's ``local_count`` rows, as NumPy.

        Args:
            y: one ``predict`` output, examples on axis 0, as the compiled loop returns it.
            local_count: the number of examples in this process's shard of the data.

        Returns:
            The rows of this process's shard, a NumPy array (the default: all of ``y``).
        """
        return np.asarray(y)

    def check_lift(self, members: int | None) -> None:
        """Raise a ``ValueError`` when this distribution cannot hold the model.

        The default accepts one model and every population.

        Args:
            members: None for one model, or a population's number of members.
        """

    def place_state(self, tree: Any) -> Any:
        """Put a train state where the compiled functions expect it.

        Args:
            tree: the train state, a pytree of arrays (parameters, optimizer state, PRNG keys).

        Returns:
            The same pytree placed on the device(s) (the default: as it is).
        """
        return tree


def get(distribution: Any) -> Distribution:
    """Resolve ``compile``'s ``distribution`` argument: ``None`` means one device.

    Args:
        distribution: None or a :class:`Distribution` (e.g. :class:`DataParallel`).

    Returns:
        The distribution; for None, the shared single-device :class:`Distribution`.

    Raises:
        TypeError: ``distribution`` is neither None nor a :class:`Distribution`.

    Example:
        >>> type(get(None)).__name__
        'Distribution'
    """
    if distribution is None:
        return _DEFAULT
    if not isinstance(distribution, Distribution):
        raise TypeError(
            "distribution must be None or a fnn.distributed.Distribution such as "
            f"fnn.distributed.DataParallel(), got {type(distribution).__name__}: {distribution!r}."
        )
    return distribution


_DEFAULT = Distribution()


class DataParallel(Distribution):
    """Data parallelism over ``devices`` (default: every device of every process).

    Keras's ``keras.distribution.DataParallel``. Attributes: ``mesh`` (the one-axis
    ``jax.sharding.Mesh``), ``num_devices``, ``mesh_axis`` and ``replicated`` (the sharding of
    everything but the batches).

    Args:
        devices: the devices to use (``jax.Device`` objects, from one or more processes), or
            ``None`` for ``jax.devices()``. They are ordered by process, then id.
        mesh_axis: the name of the mesh axis the batch is sharded along (default ``"batch"``).

    Raises:
        TypeError: ``mesh_axis`` is not a non-empty str, or ``devices`` is empty or holds
            something other than ``jax.Device``.
        ValueError: ``devices`` gives the processes different numbers of devices.

    Example:
        >>> dp = DataParallel()
        >>> dp.num_devices == len(jax.devices())
        True
    """

    def __init__(self, devices: Sequence[Any] | None = None, mesh_axis: str = "batch") -> None:
        if not isinstance(mesh_axis, str) or not mesh_axis:
            raise TypeError(f"mesh_axis must be a non-empty str, got {mesh_axis!r}.")
        devices = list(jax.devices() if devices is None else devices)
        if not devices or not all(isinstance(d, jax.Device) for d in devices):
            raise TypeError(
                f"devices must be a non-empty sequence of jax.Device (e.g. jax.devices()), got "
                f"{devices!r}."
            )
        # Processes in order, so process p's shard of the data is the p-th block of the batch axis.
        devices.sort(key=lambda d: (d.process_index, d.id))
        per_process: dict[int, int] = {}
        for d in devices:
            per_process[d.process_index] = per_process.get(d.process_index, 0) + 1
        if len(set(per_process.values())) > 1:
            raise ValueError(
                f"devices must give every process the same number of devices, got {per_process} "
                "(process: count)."
            )
        self.mesh_axis = mesh_axis
        self.mesh = Mesh(np.array(devices), (mesh_axis,))
        self.num_devices = len(devices)
        self.processes = sorted(per_process)
        self.replicated = NamedSharding(self.mesh, P())
        self._multi_process = len(per_process) > 1 or jax.process_count() > 1
        self._strip = jax.jit(lambda a, idx: a[idx], out_shardings=self.replicated)

    def __repr__(self) -> str:
        return f"DataParallel(num_devices={self.num_devices}, mesh_axis={self.mesh_axis!r})"

    def batch_sharding(self, axis: int = 0) -> NamedSharding:
        """``NamedSharding`` splitting axis ``axis`` across the mesh (the batch axis).

        Args:
            axis: the axis to split; every other axis stays whole.

        Returns:
            ``NamedSharding(mesh, P(None, ..., mesh_axis))`` with ``axis`` Nones.
        """
        return NamedSharding(self.mesh, P(*([None] * axis), self.mesh_axis))

    # -- hooks --------------------------------------------------------------------------------
    def check_batch_size(self, batch_size: int, argument: str = "batch_size") -> None:
        """Check that the global ``batch_size`` divides by the number of devices.

        Args:
            batch_size: the global batch size.
            argument: the argument's name, for the error message.

        Raises:
            ValueError: ``batch_size`` is not a multiple of :attr:`num_devices` (the message
                suggests the nearest multiples).
        """
        if batch_size % self.num_devices:
            lower = batch_size // self.num_devices * self.num_devices
            options = [b for b in (lower, lower + self.num_devices) if b > 0]
            raise ValueError(
                f"{argument}={batch_size} is the global batch and must divide by the "
                f"{self.num_devices} devices of the DataParallel mesh; use a multiple of "
                f"{self.num_devices}, e.g. {' or '.join(map(str, options))}."
            )

    def num_examples(self, local_count: int) -> int:
        """The number of examples of the global data set: every process's count, summed.

        With several processes this is a collective: every process must call it.

        Args:
            local_count: the number of examples in this process's shard of the data.

        Returns:
            The sum of every process's ``local_count``.
        """
        return int(sum(self._counts(local_count)))

    def place(
        self, arrays: list[np.ndarray | None], batch_size: int, max_device_bytes: int | None
    ) -> data_lib.Placement:
        """Put this process's shard on the mesh as the global data, replicated on every device.

        In one process the data set may stream in chunks (see :func:`fnn.data.place`); with
        several it is placed whole, the shards concatenated in process order.

        Args:
            arrays: this process's data arrays (None where absent), examples on axis 0.
            batch_size: the global batch size.
            max_device_bytes: the most bytes of data kept on each device at once; None: no
                limit.

        Returns:
            The :class:`fnn.data.Placement` of the global data set.

        Raises:
            ValueError: with several processes, the global data set exceeds
                ``max_device_bytes`` (streaming works in one process only); in one process,
                ``max_device_bytes`` cannot hold one batch.
        """
        if not self._multi_process:
            return data_lib.place(arrays, batch_size, max_device_bytes, put=self.put_data)
        local = [a for a in arrays if a is not None]
        per_example = sum(a.nbytes for a in local) / max(local[0].shape[0], 1)
        nbytes = per_example * self.num_examples(local[0].shape[0])
        if max_device_bytes is not None and nbytes > max_device_bytes:
            raise ValueError(
                f"The global data set ({nbytes:.0f} bytes) exceeds max_device_bytes="
                f"{max_device_bytes}; streaming it in chunks works in one process only. Pass "
                "max_device_bytes=None to keep it on every device, or use fewer examples."
            )
        return data_lib.Placement(arrays, self.put_data(arrays), None, self.put_data)

    def put_data(self, arrays: Sequence[np.ndarray | None]) -> tuple[Any, ...]:
        """This process's arrays as the global data, replicated on every device of the mesh.

        With several processes the shards are gathered (a collective) and concatenated in
        process order.

        Args:
            arrays: this process's arrays (None where absent), examples on axis 0.

        Returns:
            A tuple of replicated ``jax.Array`` (None kept), one per array.
        """
        return tuple(None if a is None else self._global(np.asarray(a)) for a in arrays)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Compile a loop whose arguments are replicated on the mesh before each call.

        Args:
            fn: the loop function to compile.

        Returns:
            A callable running ``jax.jit(fn)`` with replicated outputs on the mesh.
        """
        return _MeshFunction(jax.jit(fn, out_shardings=self.replicated), self)

    def shard_batch(self, arrays: tuple[Any, ...], axis: int) -> tuple[Any, ...]:
        """Constrain traced batch arrays to be split along ``axis`` across the devices.

        An array whose ``axis`` does not divide by the number of devices (an epoch's last,
        smaller batch) is constrained to be replicated instead.

        Args:
            arrays: the batch's arrays (None where absent), traced inside a jitted loop.
            axis: the batch axis of every array.

        Returns:
            The arrays with ``jax.lax.with_sharding_constraint`` applied (None kept).
        """

        def constrain(a):
            if a is None:
                return None
            divides = a.shape[axis] % self.num_devices == 0
            sharding = self.batch_sharding(axis) if divides else self.replicated
            return jax.lax.with_sharding_constraint(a, sharding)

        return tuple(constrain(a) for a in arrays)

    def fetch_rows(self, y: jax.Array, local_count: int) -> np.ndarray:
        """``predict``'s output for this process's rows, as NumPy.

        With several processes every process holds every row; this one's are the block at its
        position in process order (finding it is a collective).

        Args:
            y: one ``predict`` output for the global data set, examples on axis 0, replicated.
            local_count: the number of examples in this process's shard of the data.

        Returns:
            The ``local_count`` rows of this process's shard, a NumPy array.
        """
        full = np.asarray(y)  # replicated: every process holds all rows
        if not self._multi_process:
            return full
        rank = self.processes.index(jax.process_index())
        start = sum(self._counts(local_count)[:rank])
        return full[start : start + local_count]

    def place_state(self, tree: Any) -> Any:
        """Replicate a train state on every device of the mesh (see :meth:`replicate`).

        Args:
            tree: the train state, a pytree of arrays.

        Returns:
            The same pytree with every array replicated on the mesh.
        """
        return self.replicate(tree)

    def replicate(self, tree: Any) -> Any:
        """Copy every array of ``tree`` onto every device of the mesh (a no-op where it is).

        PRNG key arrays keep their key type. With several processes, every process must pass
        the same values (a host value may go to any device).

        Args:
            tree: a pytree of arrays, NumPy arrays or scalars.

        Returns:
            The same pytree with every leaf a replicated ``jax.Array``.
        """
        return jax.tree.map(self._replicate_leaf, tree)

    # -- helpers ------------------------------------------------------------------------------
    def _counts(self, local_count: int) -> list[int]:
        """Every process's example count (one small collective when there are several)."""
        if not self._multi_process:
            return [local_count]
        from jax.experimental import multihost_utils

        gathered = multihost_utils.process_allgather(np.array([local_count], np.int64))
        counts = [int(c) for c in np.asarray(gathered).reshape(-1)]
        return [counts[p] for p in self.processes]

    def _global(self, a: np.ndarray) -> jax.Array:
        if not self._multi_process:
            return jax.device_put(a, self.replicated)
        counts = self._counts(a.shape[0])
        local = self.num_devices // len(self.processes)
        per = math.ceil(max(counts) / local) * local
        padded = np.zeros((per, *a.shape[1:]), a.dtype)
        padded[: a.shape[0]] = a
        sharded = jax.make_array_from_process_local_data(
            self.batch_sharding(0), padded, (per * len(counts), *a.shape[1:])
        )
        # Drop the padding and replicate: one all-gather, on the devices.
        rows = np.concatenate([p * per + np.arange(c) for p, c in enumerate(counts)])
        return self._strip(sharded, rows.astype(np.int32))

    def _replicate_leaf(self, x: Any) -> Any:
        if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(self.replicated, x.ndim):
            return x
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = self._replicate_leaf(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        if self._multi_process:
            x = np.asarray(x)  # identical in every process: a host value may go to any sharding
        return jax.device_put(x, self.replicated)


class MemberParallel(Distribution):
    """Population parallelism: the members of a :class:`fnn.Population` split across devices.

    Each device trains its own group of members on the whole data (replicated): no
    communication between devices, so N members on D devices train about D times as fast as on
    one while the work per device is the bottleneck. ``size`` must divide by the number of
    devices. For one model use :class:`DataParallel`.

    Args:
        devices: the devices to use (``jax.Device`` objects), or ``None`` for
            ``jax.local_devices()``.
        mesh_axis: the name of the mesh axis the members are split along (default
            ``"members"``).

    Raises:
        TypeError: ``mesh_axis`` is not a non-empty str, or ``devices`` is empty or holds
            something other than ``jax.Device``.

    Example:
        >>> mp = MemberParallel()
        >>> mp.num_devices == len(jax.local_devices())
        True
    """

    def __init__(self, devices: Sequence[Any] | None = None, mesh_axis: str = "members") -> None:
        if not isinstance(mesh_axis, str) or not mesh_axis:
            raise TypeError(f"mesh_axis must be a non-empty str, got {mesh_axis!r}.")
        devices = list(jax.local_devices() if devices is None else devices)
        if not devices or not all(isinstance(d, jax.Device) for d in devices):
            raise TypeError(
                f"devices must be a non-empty sequence of jax.Device (e.g. jax.devices()), got "
                f"{devices!r}."
            )
        self.mesh_axis = mesh_axis
        self.mesh = Mesh(np.array(devices), (mesh_axis,))
        self.num_devices = len(devices)
        self.replicated = NamedSharding(self.mesh, P())
        self.members_sharding = NamedSharding(self.mesh, P(mesh_axis))

    def __repr__(self) -> str:
        return f"MemberParallel(num_devices={self.num_devices}, mesh_axis={self.mesh_axis!r})"

    def check_lift(self, members: int | None) -> None:
        """Check that there is a population whose members split evenly across the devices.

        Args:
            members: None for one model, or a population's number of members.

        Raises:
            ValueError: ``members`` is None (one model: use :class:`DataParallel`), or it does
                not divide by :attr:`num_devices`.
        """
        if members is None:
            raise ValueError(
                "MemberParallel splits the members of a fnn.Population across devices; for one "
                "model use fnn.distributed.DataParallel()."
            )
        if members % self.num_devices:
            raise ValueError(
                f"A population of size={members} cannot be split evenly across the "
                f"{self.num_devices} devices of MemberParallel; use a size that divides by "
                f"{self.num_devices}."
            )

    def place(
        self, arrays: list[np.ndarray | None], batch_size: int, max_device_bytes: int | None
    ) -> data_lib.Placement:
        """Put the data on every device whole (each device trains its members on all of it).

        Args:
            arrays: the data arrays (None where absent), examples on axis 0.
            batch_size: the batch size (streamed chunks are a multiple of it).
            max_device_bytes: the most bytes of data kept on each device at once; None: no
                limit.

        Returns:
            The :class:`fnn.data.Placement` of the data set.

        Raises:
            ValueError: ``max_device_bytes`` cannot hold one batch.
        """
        return data_lib.place(arrays, batch_size, max_device_bytes, put=self.put_data)

    def put_data(self, arrays: Sequence[np.ndarray | None]) -> tuple[Any, ...]:
        """The data, replicated on every device (each trains its members on all of it).

        Args:
            arrays: the data arrays (None where absent).

        Returns:
            A tuple of replicated ``jax.Array`` (None kept), one per array.
        """
        return tuple(None if a is None else jax.device_put(a, self.replicated) for a in arrays)

    def place_state(self, tree: Any) -> Any:
        """Split a population's stacked train state across the devices, member axis first.

        Args:
            tree: the stacked train state, a pytree whose arrays have the members on axis 0
                (scalars are replicated).

        Returns:
            The same pytree with every array sharded along axis 0 over the mesh.
        """

        def put(x: Any) -> Any:
            sharding = self.members_sharding if np.ndim(x) else self.replicated
            if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
                data = jax.device_put(jax.random.key_data(x), sharding)
                return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
            return jax.device_put(x, sharding)

        return jax.tree.map(put, tree)


class _MeshFunction:
    """A jitted loop whose arguments are replicated on the mesh before each call."""

    def __init__(self, jitted: Any, dist: DataParallel) -> None:
        self._jitted, self._dist = jitted, dist

    def __call__(self, *args: Any) -> Any:
        return self._jitted(*self._dist.replicate(args))

    def _cache_size(self) -> int:
        return self._jitted._cache_size()

    def lower(self, *args: Any) -> Any:
        return self._jitted.lower(*self._dist.replicate(args))
