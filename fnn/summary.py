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
    """A model summary as data: one row per layer, and the parameter totals.

    Args:
        name: the model's name (the ``Model: "..."`` heading).
        rows: one ``("name (Type)", output shape, param count)`` tuple of strings per layer,
            inner layers of combinators after their combinator; shape and count are ``"?"``
            when the model is not built.
        trainable: the number of trainable parameters (the layers' params).
        non_trainable: the number of non-trainable parameters (the layers' state, such as
            batch normalization's moving statistics).
    """

    name: str
    rows: list[tuple[str, str, str]]
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        """All parameters: ``trainable + non_trainable``."""
        return self.trainable + self.non_trainable


def summarize(model: Any) -> SummaryTable:
    """The summary of a :class:`~fnn.models.Sequential` model, as data.

    Layers inside combinators (``serial``, ``parallel``, ``Residual``) get rows of their own
    after their combinator's, indented by two spaces per level; the totals count each weight
    once. Counts carry thousands separators, as Keras prints them.

    Args:
        model: the :class:`~fnn.models.Sequential` model; if it is not built yet, every row's
            shape and count are ``"?"`` and the totals 0.

    Returns:
        A :class:`SummaryTable` (render it with :func:`to_text` or :func:`to_html`).

    Example:
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

    Args:
        text: the text to show.

    Returns:
        ``text`` with every non-printable character replaced by its ``unicode_escape`` form.

    Example:
        >>> printable("dense\x1b[2J")
        'dense\\x1b[2J'
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def label(layer: Any, depth: int = 0) -> str:
    """The first column of a layer's row: ``"name (Type)"``, or ``"Type"`` for an unnamed layer.

    Args:
        layer: the layer.
        depth: how deeply it is nested in combinators; each level indents by two spaces
            (default 0).

    Returns:
        The label, its name made :func:`printable`.
    """
    kind = type(layer).__name__
    return "  " * depth + (kind if layer.name is None else f"{printable(str(layer.name))} ({kind})")


def layer_rows(
    layer: Any, params: Any, state: Any, input_shape: Any, depth: int
) -> list[tuple[str, str, str]]:
    """The rows of one built layer and, for a combinator, of the layers inside it.

    Args:
        layer: the layer.
        params: its parameters (a pytree of arrays), counted as trainable.
        state: its state (a pytree of arrays), counted with the params in its row.
        input_shape: the shape of its input, batch dimension included (``None``).
        depth: its nesting level, for :func:`label`.

    Returns:
        A list of ``(label, output shape, param count)`` string tuples: the layer's own row
        first, then, recursively, the rows of the layers inside a ``Serial``/``Parallel``.
    """
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
    """The printed summary, line by line.

    Args:
        table: the summary, from :func:`summarize`.

    Returns:
        The lines (no trailing newlines): heading, column titles, one line per row separated
        by rules, then the three totals, as ``Sequential.summary()`` prints them.
    """
    rows = [HEADER, *table.rows]
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "-" * sum(widths)
    out = [f'Model: "{printable(str(table.name))}"', line]
    for j, row in enumerate(rows):
        out.append("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        out.append("=" * len(line) if j == 0 else line)
    return out + _totals(table)


def indented(text: str) -> str:
    """``text`` escaped for HTML, its leading spaces (the nesting of inner layers) kept.

    Args:
        text: one table cell.

    Returns:
        The cell with each leading space as ``&nbsp;`` and the rest HTML-escaped.

    Example:
        >>> indented("  <Dense>")
        '&nbsp;&nbsp;&lt;Dense&gt;'
    """
    body = text.lstrip(" ")
    return "&nbsp;" * (len(text) - len(body)) + html.escape(body)


def to_html(table: SummaryTable) -> str:
    """The summary as an HTML table (what notebooks show for a model).

    Args:
        table: the summary, from :func:`summarize`.

    Returns:
        One ``<div>`` holding the heading, a ``<table>`` of the rows and the totals, with every
        name HTML-escaped.
    """

    def tr(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{indented(c)}</{tag}>" for c in cells) + "</tr>"

    body = "".join(tr(row, "td") for row in table.rows)
    totals = "".join(f"<br>{html.escape(t)}" for t in _totals(table))
    return (
        f"<div><b>Model: &quot;{html.escape(table.name)}&quot;</b>"
        f"<table><thead>{tr(HEADER, 'th')}</thead><tbody>{body}</tbody></table>"
        f"{totals[4:]}</div>"
    )
