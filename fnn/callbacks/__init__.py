"""Callbacks: hooks that ``fit`` calls at epoch boundaries (never per step).

>>> from fnn.callbacks import Callback
>>> class Printer(Callback):
...     def on_epoch_end(self, epoch, logs=None):
...         print(epoch, sorted(logs))
"""

from fnn.callbacks.base import Callback, CallbackList
from fnn.callbacks.csv_logger import CSVLogger
from fnn.callbacks.early_stopping import EarlyStopping
from fnn.callbacks.history import History
from fnn.callbacks.lambda_callback import LambdaCallback
from fnn.callbacks.learning_rate_scheduler import LearningRateScheduler
from fnn.callbacks.model_checkpoint import ModelCheckpoint
from fnn.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from fnn.callbacks.tensorboard import TensorBoard
from fnn.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
