"""Model summaries: the table ``Sequential.summary()`` prints, and its HTML form for notebooks.

Trainable parameters are the layers' params; non-trainable ones their state (batch
normalization's moving mean and variance), as Keras counts them::

    >>> from fnn.models import Sequential
    >>> from fnn.layers import BatchNormalization, Dense
    >>> table = summarize(Sequential([Dense(4, input_shape=3), BatchNormalization()]))
    >>> table.rows[1], table.trainable, table.non_trainable
    (('batch_normalization (BatchNormalization)', '(None, 4)', '16'), 24, 8)
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from fnn.layers import Serial, count_params

HEADER = ("Layer (type)", "Output Shape", "Param #")


@dataclasses.dataclass(frozen=True)
class SummaryTable:
    """One row per layer: ``(name (type), output shape, param count)``; ``"?"`` when unbuilt."""

    name: str
    rows: list[tuple[str, str, str]]
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def summarize(model: Any) -> SummaryTable:
    """The summary of a :class:`~fnn.models.Sequential` model, as data."""
    layers = model.layers
    built = model.built
    shapes = Serial(layers).input_shapes(model.input_shape)[1:] if built else [None] * len(layers)
    rows, trainable, non_trainable = [], 0, 0
    for i, (layer, shape) in enumerate(zip(layers, shapes, strict=True)):
        p = count_params(model.params[i]) if built else 0
        s = count_params(model.state[i]) if built else 0
        trainable += p
        non_trainable += s
        out = "?" if shape is None else str((None, *shape))
        rows.append((f"{layer.name} ({type(layer).__name__})", out, str(p + s) if built else "?"))
    return SummaryTable(model.name, rows, trainable, non_trainable)


def _totals(table: SummaryTable) -> list[str]:
    return [
        f"Total params: {table.total}",
        f"Trainable params: {table.trainable}",
        f"Non-trainable params: {table.non_trainable}",
    ]


def to_text(table: SummaryTable) -> list[str]:
    """The printed summary, line by line."""
    rows = [HEADER, *table.rows]
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "-" * sum(widths)
    out = [f'Model: "{table.name}"', line]
    for j, row in enumerate(rows):
        out.append("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        out.append("=" * len(line) if j == 0 else line)
    return out + _totals(table)


def to_html(table: SummaryTable) -> str:
    """The summary as an HTML table (what notebooks show for a model)."""

    def tr(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    body = "".join(tr(row, "td") for row in table.rows)
    totals = "".join(f"<br>{html.escape(t)}" for t in _totals(table))
    return (
        f"<div><b>Model: &quot;{html.escape(table.name)}&quot;</b>"
        f"<table><thead>{tr(HEADER, 'th')}</thead><tbody>{body}</tbody></table>"
        f"{totals[4:]}</div>"
    )
