"""TensorBoard: training curves, weight histograms and profiler traces for TensorBoard.

Event files are written with the ``tensorboard`` package's own writer (no TensorFlow needed:
``pip install fnn[tensorboard]``), under Keras's run and tag names, so dashboards made for Keras
read them unchanged:

- ``log_dir/train``: ``epoch_<metric>`` at each epoch end (step: the epoch),
  ``epoch_learning_rate`` when the optimizer's learning rate lives in its state,
  ``batch_<metric>`` every ``update_freq`` steps (step: the number of steps trained),
  ``<layer>/<weight>/histogram`` every ``histogram_freq`` epochs (``dense/kernel/histogram``);
- ``log_dir/validation``: ``epoch_<metric>`` from the ``val_`` logs, and
  ``evaluation_<metric>_vs_iterations`` at each ``on_test_end`` (step: the steps trained).

For a :class:`fnn.Population`, whose logs hold one value per member (arrays of shape ``(N,)``),
member ``i``'s curves and histograms go to the runs ``log_dir/member_<i>/train`` and
``log_dir/member_<i>/validation``: TensorBoard overlays the members.

Batch-level logging and profiling act in the batch hooks (``on_train_batch_begin/end``), which
fit calls once per execution of ``steps_per_execution`` steps; ``batch`` is the 0-based index of
the execution's first step (``begin``) or last step (``end``) within the epoch.

Cost: at ``update_freq="epoch"`` the callback writes a few records per epoch from logs that fit
already brought to the host. At ``"batch"`` (or an int) each logged execution needs its logs on
the host, a device-to-host sync per execution, and a protobuf record per metric (tens of
microseconds): negligible when an execution is many steps, dominant when every step is its own
execution of a small model.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from fnn.callbacks.base import Callback
from fnn.interop.names import layer_weight_names


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _profile_range(profile_batch: Any) -> tuple[int, int] | None:
    """Keras's ``profile_batch``: 0 (off), a step, a (start, stop) pair or a "start,stop" str."""
    value = profile_batch
    if isinstance(value, str):
        try:
            value = tuple(int(v) for v in value.split(","))
        except ValueError:
            value = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None if value == 0 else (value, value)
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(_positive(v) for v in value)
        and value[0] <= value[1]
    ):
        return int(value[0]), int(value[1])
    raise ValueError(
        "profile_batch must be a non-negative int, or a pair (start, stop) of positive ints with "
        f"start <= stop (a list, tuple or 'start,stop' string), got {profile_batch!r}."
    )


class TensorBoard(Callback):
    """Write logs, weight histograms and profiler traces that TensorBoard reads (Keras's callback).

    Args:
        log_dir: the directory of the runs (``train``, ``validation``, ``member_<i>/...``).
        histogram_freq: write a histogram of every weight each ``histogram_freq`` epochs
            (0: never).
        write_graph: Keras writes a TensorFlow graph; fnn has none, so only False is accepted.
        write_images: only False (Keras writes weights as images).
        write_steps_per_second: also write ``epoch_steps_per_second`` (training steps per
            second of wall time over the epoch).
        update_freq: ``"epoch"`` (the epoch logs only), ``"batch"`` (the logs of every batch
            hook) or an int ``n`` (the logs of the batch hook that reaches each multiple of
            ``n`` steps).
        profile_batch: 0 (no profiling), a step ``k`` or a pair ``(start, stop)`` of 1-based
            global step numbers: a ``jax.profiler`` trace, written to ``log_dir/train``
            (``plugins/profile/...``, TensorBoard's profile tab), runs from the batch hook of the
            execution that contains ``start`` to that of the one that contains ``stop``.
        embeddings_freq: only 0 (Keras's embedding projector is not written).
        embeddings_metadata: only None.

    Raises:
        ValueError: an argument outside what is accepted.
        TypeError: ``log_dir`` that is not a path.

    >>> import os, tempfile, numpy as np, fnn
    >>> log_dir = tempfile.mkdtemp()
    >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0, validation_split=0.25,
    ...               callbacks=[TensorBoard(log_dir)])
    >>> sorted(os.listdir(log_dir))
    ['train', 'validation']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = False,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: int | tuple[int, int] | str = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
    ) -> None:
        super().__init__()
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ImportError(
                "fnn.callbacks.TensorBoard writes with the tensorboard package: "
                "pip install 'fnn[tensorboard]' (or tensorboard)."
            ) from None
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(
                f"TensorBoard(log_dir=...) must be a path, got {type(log_dir).__name__}: "
                f"{log_dir!r}."
            )
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int):
            raise ValueError(f"histogram_freq must be an int >= 0, got {histogram_freq!r}.")
        if histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an int >= 0, got {histogram_freq!r}.")
        if update_freq != "epoch" and update_freq != "batch" and not _positive(update_freq):
            raise ValueError(
                f"update_freq must be 'epoch', 'batch' or a positive int, got {update_freq!r}."
            )
        unsupported = {
            "write_graph": (write_graph, False),
            "write_images": (write_images, False),
            "embeddings_freq": (embeddings_freq, 0),
            "embeddings_metadata": (embeddings_metadata, None),
        }
        for name, (value, default) in unsupported.items():
            if value != default or type(value) is not type(default):
                raise ValueError(
                    f"TensorBoard({name}={value!r}) is not supported by fnn (it writes no "
                    f"TensorFlow graph, weight images or embeddings); leave it at {default!r}."
                )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq: str | int = 1 if update_freq == "batch" else update_freq
        self.profile_range = _profile_range(profile_batch)
        self._writers: dict[str, Any] = {}
        self._steps_done = 0  # training steps completed before the current epoch
        self._epoch_start_steps: int | None = None
        self._last_logged = 0
        self._epoch_started_at = 0.0
        self._tracing = False
        self._traced = False

    # -- writing ----------------------------------------------------------------------------
    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            self._writers[run] = EventFileWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _emit(self, run: str, summary: Any, step: int) -> None:
        from tensorboard.compat.proto import event_pb2

        event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        self._writer(run).add_event(event)

    def _scalars(self, run: str, prefix: str, logs: dict[str, Any], step: int) -> None:
        """Write ``logs`` as ``prefix + name`` scalars; per-member arrays go to member runs."""
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        for name, value in logs.items():
            array = np.asarray(value, np.float64)
            if array.ndim == 0:
                self._emit(run, scalar_pb(prefix + name, float(array)), step)
            elif array.ndim == 1:
                for i, v in enumerate(array):
                    self._emit(f"member_{i}/{run}", scalar_pb(prefix + name, float(v)), step)

    def _histograms(self, run: str, model: Any, epoch: int) -> None:
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb

        for layer, p, s in zip(model.layers, model.params, model.state, strict=True):
            names = layer_weight_names(layer, p, s)
            for name, w in zip(names, layer.weights_of(p, s), strict=True):
                data = np.asarray(w, np.float64)
                self._emit(run, histogram_pb(f"{name}/histogram", data), epoch)

    def _flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- helpers ----------------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        return int(self.params.get("steps") or 0)

    def _global_step(self, batch: int) -> int:
        """1-based number of the step ``batch`` (0-based, in the current epoch) over the fit."""
        return self._steps_done + int(batch) + 1

    def _learning_rate(self) -> Any:
        hyper = getattr(getattr(self.model, "opt_state", None), "hyperparams", None)
        if not isinstance(hyper, dict) or "learning_rate" not in hyper:
            return None
        return np.asarray(hyper["learning_rate"], np.float64)

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._steps_done = 0
        self._epoch_start_steps = None
        self._last_logged = 0
        self._tracing = self._traced = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._epoch_start_steps is None:  # the first epoch of this fit (initial_epoch)
            self._steps_done = epoch * self._steps_per_epoch()
            self._last_logged = self._steps_done
        self._epoch_start_steps = self._steps_done
        self._epoch_started_at = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.profile_range is None or self._tracing or self._traced:
            return
        first = self._global_step(batch)
        last = first + int(self.params.get("steps_per_execution") or 1) - 1
        start, stop = self.profile_range
        if first <= stop and last >= start:
            import jax

            jax.profiler.start_trace(os.path.join(self.log_dir, "train"))
            self._tracing = True

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = self._global_step(batch)
        if self._tracing and self.profile_range is not None and step >= self.profile_range[1]:
            self._stop_trace()
        if not isinstance(self.update_freq, int) or not isinstance(logs, dict):
            return  # update_freq is "epoch" or a number of steps
        if step // self.update_freq > self._last_logged // self.update_freq:
            self._scalars("train", "batch_", logs, step)
            self._last_logged = step

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if logs:
            logs = {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()}
            self._scalars("validation", "", logs, self._steps_done)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        steps = self._steps_per_epoch()
        self._steps_done = (self._epoch_start_steps or 0) + steps
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = self._learning_rate()
        if lr is not None:
            train["learning_rate"] = lr
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_started_at
            train["steps_per_second"] = steps / seconds if seconds > 0 else 0.0
        self._scalars("train", "epoch_", train, epoch)
        self._scalars("validation", "epoch_", val, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            model = self.model
            if hasattr(model, "member") and hasattr(model, "size"):  # a Population
                for i in range(model.size):
                    self._histograms(f"member_{i}/train", model.member(i), epoch)
            else:
                self._histograms("train", model, epoch)
        self._flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._tracing:
            self._stop_trace()
        self._close()

    def _stop_trace(self) -> None:
        import jax

        jax.profiler.stop_trace()
        self._tracing = False
        self._traced = True
