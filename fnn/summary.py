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

from fnn.layers import Parallel, Serial, count_params, format_shape

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
    """The summary of a :class:`~fnn.models.Sequential` model, as data.

    Layers inside combinators (``serial``, ``parallel``, ``Residual``) get rows of their own
    after their combinator's, indented by two spaces per level; the totals count each weight
    once. Counts carry thousands separators, as Keras prints them.

    Args:
        model: the model.

    Returns:
        The table.

    >>> from fnn.models import Sequential
    >>> from fnn.layers import Dense, Residual
    >>> table = summarize(Sequential([Dense(40, input_shape=30), Residual(Dense(40))]))
    >>> [row[0] for row in table.rows], table.rows[1][2], table.total
    (['dense (Dense)', 'residual (Residual)', '  Dense'], '1,640', 2880)
    """
    layers = model.layers
    built = model.built
    if not built:
        return SummaryTable(model.name, [(label(layer), "?", "?") for layer in layers], 0, 0)
    shapes = Serial(layers).input_shapes(model.input_shape)[:-1]
    rows: list[tuple[str, str, str]] = []
    for layer, p, s, shape in zip(layers, model.params, model.state, shapes, strict=True):
        rows.extend(layer_rows(layer, p, s, shape, 0))
    trainable, non_trainable = count_params(model.params), count_params(model.state)
    return SummaryTable(model.name, rows, trainable, non_trainable)


def printable(text: str) -> str:
    r"""``text`` with control characters (terminal escape sequences from a crafted file's layer
    names) shown as ``\x1b``-style escapes instead of acting on the terminal.

    >>> printable("dense\x1b[2J")
    'dense\\x1b[2J'
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def label(layer: Any, depth: int = 0) -> str:
    """``"name (Type)"``, or the type alone for an unnamed inner layer, indented by depth."""
    kind = type(layer).__name__
    return "  " * depth + (kind if layer.name is None else f"{printable(str(layer.name))} ({kind})")


def layer_rows(
    layer: Any, params: Any, state: Any, input_shape: Any, depth: int
) -> list[tuple[str, str, str]]:
    """The rows of one built layer and, for a combinator, of the layers inside it."""
    count = count_params(params) + count_params(state)
    rows = [(label(layer, depth), format_shape(layer.output_shape(input_shape)), f"{count:,}")]
    if isinstance(layer, (Serial, Parallel)):
        inner = zip(layer.layers, params, state, layer.layer_input_shapes(input_shape), strict=True)
        for sub, p, s, shape in inner:
            rows.extend(layer_rows(sub, p, s, shape, depth + 1))
    return rows


def _totals(table: SummaryTable) -> list[str]:
    return [
        f"Total params: {table.total:,}",
        f"Trainable params: {table.trainable:,}",
        f"Non-trainable params: {table.non_trainable:,}",
    ]


def to_text(table: SummaryTable) -> list[str]:
    """The printed summary, line by line."""
    rows = [HEADER, *table.rows]
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "-" * sum(widths)
    out = [f'Model: "{printable(str(table.name))}"', line]
    for j, row in enumerate(rows):
        out.append("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        out.append("=" * len(line) if j == 0 else line)
    return out + _totals(table)


def indented(text: str) -> str:
    """``text`` escaped for HTML, its leading spaces (the nesting of inner layers) kept."""
    body = text.lstrip(" ")
    return "&nbsp;" * (len(text) - len(body)) + html.escape(body)


def to_html(table: SummaryTable) -> str:
    """The summary as an HTML table (what notebooks show for a model)."""

    def tr(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{indented(c)}</{tag}>" for c in cells) + "</tr>"

    body = "".join(tr(row, "td") for row in table.rows)
    totals = "".join(f"<br>{html.escape(t)}" for t in _totals(table))
    return (
        f"<div><b>Model: &quot;{html.escape(table.name)}&quot;</b>"
        f"<table><thead>{tr(HEADER, 'th')}</thead><tbody>{body}</tbody></table>"
        f"{totals[4:]}</div>"
    )
