"""Callbacks: hooks that ``fit`` calls at epoch boundaries (never per step).

>>> from fnn.callbacks import Callback
>>> class Printer(Callback):
...     def on_epoch_end(self, epoch, logs=None):
...         print(epoch, sorted(logs))
"""

from fnn.callbacks.base import Callback, CallbackList
from fnn.callbacks.history import History
from fnn.callbacks.model_checkpoint import ModelCheckpoint

__all__ = ["Callback", "CallbackList", "History", "ModelCheckpoint"]
