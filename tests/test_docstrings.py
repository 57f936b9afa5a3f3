"""Every public function, class and method of fnn documents itself in one style (Google):

- a docstring;
- an ``Args:`` section naming every parameter (``self``/``cls`` aside), in the function's own
  docstring or, for a class's constructor, in the class docstring;
- a ``Returns:`` (or ``Yields:``) section when the function is annotated to return something;
- a ``Raises:`` section when its own body raises.

``help(fnn.models.Sequential.fit)`` is what a user reads first; this module is what keeps it
whole. The checker walks the package with ``inspect`` and ``ast`` (the source, not a regex)."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Callable, Iterator

import pytest

import fnn

SECTION = re.compile(
    r"^(\s*)(Args|Arguments|Returns|Yields|Raises|Example|Examples|Note|Notes):\s*$"
)


def public_modules() -> list[str]:
    names = ["fnn"]
    for info in pkgutil.walk_packages(fnn.__path__, prefix="fnn."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def sections(doc: str) -> dict[str, str]:
    """The Google-style sections of a docstring, by heading, with their bodies."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(doc).splitlines():
        match = SECTION.match(line)
        if match:
            current = found.setdefault(match.group(2), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(body) for name, body in found.items()}


def documented_names(args_text: str) -> set[str]:
    """Names an Args section describes: ``name:``, ``name (type):``, ``*args:``, ``a, b:``."""
    names: set[str] = set()
    for line in textwrap.dedent(args_text).splitlines():
        match = re.match(r"^([*\w][\w*, ]*?)\s*(\([^)]*\))?\s*:", line)
        if match:
            for name in match.group(1).split(","):
                names.add(name.strip().lstrip("*"))
    return names


def raises_itself(function: Callable) -> bool:
    """Whether the function's own body (nested functions aside) has a ``raise`` with a value."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return False
    tree = ast.parse(source)
    root = tree.body[0]

    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
            ):
                continue
            yield child
            yield from walk(child)

    return any(isinstance(node, ast.Raise) and node.exc is not None for node in walk(root))


def returns_something(function: Callable) -> bool:
    try:
        annotation = inspect.signature(function).return_annotation
    except (TypeError, ValueError):
        return False
    if annotation is inspect.Signature.empty:
        return False
    return annotation not in (None, "None", "NoReturn", "Never")


def parameters(function: Callable) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [name for name in signature.parameters if name not in ("self", "cls")]


def problems_of(function: Callable, name: str, *, constructor_doc: str | None = None) -> list[str]:
    doc = inspect.getdoc(function) if constructor_doc is None else None
    own = function.__doc__
    if constructor_doc is not None:
        doc = "\n\n".join(d for d in (constructor_doc, own and inspect.cleandoc(own)) if d)
    if not doc:
        return [f"{name}: no docstring"]
    found = sections(doc)
    out = []
    wanted = parameters(function)
    if wanted:
        described = documented_names(found.get("Args", found.get("Arguments", "")))
        missing = [p for p in wanted if p not in described]
        if missing:
            out.append(f"{name}: Args lacks {', '.join(missing)}")
    documents_result = "Returns" in found or "Yields" in found
    if constructor_doc is None and returns_something(function) and not documents_result:
        out.append(f"{name}: no Returns section")
    if raises_itself(function) and "Raises" not in found:
        out.append(f"{name}: raises but has no Raises section")
    return out


def is_own(owner: object, obj: object) -> bool:
    return getattr(obj, "__module__", None) == getattr(owner, "__name__", None)


def class_problems(cls: type, qualname: str) -> list[str]:
    out = []
    doc = cls.__doc__
    if not doc:
        out.append(f"{qualname}: no docstring")
    init = cls.__dict__.get("__init__")
    if init is not None and inspect.isfunction(init):
        out += problems_of(
            init, f"{qualname}.__init__", constructor_doc=inspect.cleandoc(doc or "")
        )
    for attr, member in vars(cls).items():
        if attr.startswith("_"):
            continue
        where = f"{qualname}.{attr}"
        if isinstance(member, property):
            if member.fget is not None and not member.fget.__doc__:
                out.append(f"{where}: no docstring")
            continue
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        if inspect.isfunction(member):
            out += problems_of(member, where)
    return out


@functools.cache
def all_problems() -> tuple[str, ...]:
    out: list[str] = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if not module.__doc__:
            out.append(f"{module_name}: no module docstring")
        for attr, obj in vars(module).items():
            if attr.startswith("_") or not is_own(module, obj):
                continue
            qualname = f"{module_name}.{attr}"
            if inspect.isclass(obj):
                out += class_problems(obj, qualname)
            elif inspect.isfunction(obj):
                out += problems_of(obj, qualname)
    return tuple(out)


def test_the_checker_finds_what_it_should():
    def undocumented(a, b):
        raise ValueError(a)

    def documented(a: int, *rest: int) -> int:
        """Adds.

        Args:
            a: the first.
            *rest: the others.

        Returns:
            The sum.

        Raises:
            ValueError: when negative.
        """
        if a < 0:
            raise ValueError("a")
        return a + sum(rest)

    def half(a: int, b: int) -> int:
        """Half documented.

        Args:
            a (int): the first.
        """
        raise TypeError("b")

    assert problems_of(undocumented, "u") == ["u: no docstring"]
    assert problems_of(documented, "d") == []
    assert problems_of(half, "h") == [
        "h: Args lacks b",
        "h: no Returns section",
        "h: raises but has no Raises section",
    ]


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_documents_its_args_returns_and_raises(module_name):
    own = [p for p in all_problems() if _module_of(p) == module_name]
    assert not own, f"{len(own)} gaps:\n" + "\n".join(own)


def _module_of(problem: str) -> str:
    path = problem.split(":")[0]
    modules = public_modules()
    best = ""
    for name in modules:
        if (path == name or path.startswith(name + ".")) and len(name) > len(best):
            best = name
    return best
