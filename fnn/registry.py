"""Name → object tables for activations, initializers, losses, metrics and optimizers.

Every place that accepts a name (``activation="relu"``, ``loss="mse"``) resolves it through a
:class:`Registry`, so an unknown name always gives the same clear error: the argument, the value
received, the valid names and the closest match. Users register their own callables under a name
so that models which use them can be saved and loaded::

    >>> import jax.numpy as jnp
    >>> from fnn import activations
    >>> @activations.register("squareplus")
    ... def squareplus(x):
    ...     return (x + jnp.sqrt(x * x + 4.0)) / 2
    >>> activations.get("squareplus") is squareplus
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def unknown_name_error(argument: str, value: object, valid: list[str]) -> ValueError:
    """Build the ValueError raised for a name that is not in ``valid``.

    The message names the argument, repeats the value received, suggests the closest valid
    name (``difflib``, case-insensitive) when there is one, and lists every valid name.

    Args:
        argument: what the name was given for, as the message should call it (``"activation"``).
        value: the name received.
        valid: the names that would have been accepted.

    Returns:
        The error, for the caller to raise (it is not raised here).

    Example:
        >>> str(unknown_name_error("activation", "rleu", ["relu", "tanh"]))
        "Unknown activation 'rleu'. Did you mean 'relu'? Valid names: relu, tanh."
    """
    close = difflib.get_close_matches(str(value).lower(), valid, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"Unknown {argument} {value!r}.{hint} Valid names: {', '.join(sorted(valid))}."
    )


class Registry(Generic[T]):
    """A case-insensitive table of named objects of one kind.

    Names are stored lower-cased, so ``get("ReLU")`` and ``get("relu")`` find the same object.
    ``name in registry`` tests for a name; iterating yields the names, sorted.

    Args:
        kind: what the objects are, as error messages name the argument (``"activation"``).

    Example:
        >>> table = Registry("activation")
        >>> double = table.register("Double", lambda x: 2 * x)
        >>> table.get("DOUBLE") is double, "double" in table, table.names()
        (True, True, ['double'])
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None, *, overwrite: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        Args:
            name: the name to register under (matched case-insensitively later).
            obj: the object; None (the default) to use this method as a decorator.
            overwrite: whether to replace an object already registered under ``name``
                (default False). Registering the same object again is always allowed.

        Returns:
            ``obj`` itself when given; otherwise a decorator that registers and returns the
            object it decorates.

        Raises:
            ValueError: if another object is already registered under ``name`` and
                ``overwrite`` is False (raised when the object is added).
        """

        def add(o: T) -> T:
            key = name.lower()
            if key in self._table and not overwrite and self._table[key] is not o:
                raise ValueError(
                    f"{self.kind} name {name!r} is already registered; pass overwrite=True to "
                    "replace it."
                )
            self._table[key] = o
            return o

        return add if obj is None else add(obj)

    def get(self, name: object) -> T:
        """Return the object registered under ``name`` (case-insensitive).

        Args:
            name: the registered name.

        Returns:
            The registered object.

        Raises:
            TypeError: if ``name`` is not a string.
            ValueError: if no object is registered under ``name``; the message lists the valid
                names and the closest match.
        """
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} must be a string name, got {type(name).__name__}.")
        try:
            return self._table[name.lower()]
        except KeyError:
            raise unknown_name_error(self.kind, name, list(self._table)) from None

    def name_of(self, obj: object) -> str | None:
        """The registered name of ``obj`` (the first one, if several), or None.

        Args:
            obj: the object to look up, compared by identity.

        Returns:
            Its lower-cased registered name, or None if ``obj`` is not registered.
        """
        for key, value in self._table.items():
            if value is obj:
                return key
        return None

    def names(self) -> list[str]:
        """All registered names.

        Returns:
            The lower-cased names, sorted alphabetically.
        """
        return sorted(self._table)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def resolve(registry: Registry[Callable[..., Any]], identifier: Any, argument: str) -> Any:
    """Resolve a name through ``registry``; pass callables through; reject anything else.

    This is how arguments such as ``activation=`` or ``loss=`` accept either a name or a
    function, as in Keras.

    Args:
        registry: the table to look names up in.
        identifier: a registered name (str) or a callable.
        argument: the argument's name, used in the error message (``"activation"``).

    Returns:
        The registered object for a name; the callable itself otherwise.

    Raises:
        TypeError: if ``identifier`` is neither a string nor callable (or, through
            :meth:`Registry.get`, a non-string name).
        ValueError: if ``identifier`` is a name that is not registered.
    """
    if isinstance(identifier, str):
        return registry.get(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{argument} must be a name ({', '.join(registry.names())}) or a callable, "
        f"got {type(identifier).__name__}: {identifier!r}."
    )
