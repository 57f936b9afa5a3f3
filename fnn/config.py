"""Process-wide settings; for now, where compiled programs are kept between runs.

Compile once, ever
------------------
Most of what a user waits for in a short script or a notebook cell is XLA compiling fnn's
programs (initialisation, the fused epoch, evaluate, predict), and a re-run compiles the very
same programs again. fnn therefore turns on JAX's persistent compilation cache when it is
imported, like PyTorch's compiler caches on disk by default: a re-run of the same script loads
its programs from disk instead of compiling them.

Design:

* **Where.** A per-user directory, ``$XDG_CACHE_HOME/fnn/jax`` (``~/.cache/fnn/jax`` when
  ``XDG_CACHE_HOME`` is unset), with one subdirectory per host kind (machine, CPU model and CPU
  features): JAX's cache key names the backend but not the CPU's instruction set, and a home
  directory shared by several machines must not hand one CPU code compiled for another.
* **Opt-out.** The environment variable ``FNN_COMPILATION_CACHE``: ``0`` (or ``false``,
  ``off``, ``no``) turns the default off; a path uses that directory instead; ``1``, empty or
  unset keeps the default. At run time, :func:`set_compilation_cache` (``False``, ``True`` or
  a path).
* **The user's own JAX setting wins.** When JAX already has a cache directory when fnn is
  imported (``JAX_COMPILATION_CACHE_DIR``, or ``jax.config.update("jax_compilation_cache_dir",
  ...)`` before the import), or JAX's cache is switched off (``jax_enable_compilation_cache``),
  fnn changes nothing, thresholds and size bound included.
* **Small programs are cached.** JAX writes only programs that took at least
  ``jax_persistent_cache_min_compile_time_secs`` (default 1 s) to compile; fnn's programs take
  0.01-0.5 s each on a CPU, so fnn sets the threshold to 0 (unless the environment variable
  ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` is set). The entry-size threshold stays at
  JAX's default (no minimum).
* **A size bound.** ``jax_compilation_cache_max_size`` (:data:`DEFAULT_MAX_SIZE`, 1 GiB, unless
  ``JAX_COMPILATION_CACHE_MAX_SIZE`` is set): JAX then evicts the least recently used entries.
* **Several processes at once.** With a size bound JAX takes a file lock (the ``filelock``
  package) around every read and write of the directory, so processes sharing it never read a
  half-written entry. Without ``filelock`` installed the default stays off, since unlocked
  writes are not atomic, and :func:`set_compilation_cache` raises.

The cache is trusted code: never point it at a directory others may write to.

    >>> from fnn import config
    >>> config.default_cache_dir().parts[-3:-1]
    ('fnn', 'jax')
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
from pathlib import Path
from typing import Any

import jax
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

ENV_VAR = "FNN_COMPILATION_CACHE"
DEFAULT_MAX_SIZE = 2**30
_OFF = frozenset({"0", "false", "off", "no"})
_ON = frozenset({"", "1", "true", "on", "yes"})

# The directory fnn itself configured, so that fnn never mistakes it for the user's own.
_configured_by_fnn: str | None = None


def _host_tag() -> str:
    """A short name for this kind of host: machine, CPU model and CPU feature flags."""
    parts = [platform.system(), platform.machine(), platform.processor()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    parts.append(line.split(":", 1)[-1].strip())
                elif not line.strip() and len(parts) > 3:
                    break  # the first processor's entry is enough
    except OSError:
        pass
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
    return f"{platform.machine() or 'host'}-{digest}"


def default_cache_dir() -> Path:
    """The directory fnn caches compiled programs in by default.

    Returns:
        ``$XDG_CACHE_HOME/fnn/jax/<host kind>``, or ``~/.cache/fnn/jax/<host kind>`` when
        ``XDG_CACHE_HOME`` is unset or empty.

    Example:
        >>> from fnn import config
        >>> config.default_cache_dir().name.startswith(platform.machine() or "host")
        True
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fnn" / "jax" / _host_tag()


def compilation_cache_dir() -> str | None:
    """The directory JAX's persistent compilation cache uses now, or None when it is off.

    Returns:
        The directory, whoever configured it (fnn or the user), or None.

    Example:
        >>> import jax
        >>> from fnn import config
        >>> config.compilation_cache_dir() == jax.config.jax_compilation_cache_dir
        True
    """
    if not _jax_option("jax_enable_compilation_cache"):
        return None
    return _jax_option("jax_compilation_cache_dir")


def _jax_option(name: str) -> Any:
    # jax.config's options are attributes made at run time, which a type checker cannot see.
    return getattr(jax.config, name)


def _have_filelock() -> bool:
    return importlib.util.find_spec("filelock") is not None


def set_compilation_cache(
    cache: bool | str | os.PathLike[str] = True, *, max_size: int = DEFAULT_MAX_SIZE
) -> None:
    """Turn JAX's persistent compilation cache on (default directory or a path) or off.

    Unlike the default applied at import, this is an explicit request: it replaces whatever
    directory JAX had, the user's own included. Programs already compiled in this process stay
    in its in-memory caches; only programs compiled from now on are read from or written to the
    new directory.

    Args:
        cache: ``True`` for :func:`default_cache_dir`, a path for that directory, ``False`` to
            turn the persistent cache off.
        max_size: the size bound in bytes (least recently used entries are evicted beyond it);
            ``-1`` for no bound. Ignored when turning the cache off.

    Raises:
        TypeError: if ``cache`` is not a bool, str or path, or ``max_size`` not an int.
        ValueError: if ``cache`` is an empty string or ``max_size`` is below -1 or 0.
        RuntimeError: if turning the cache on with a size bound while the ``filelock``
            package (which JAX needs to bound the cache and to share it between processes
            safely) is not installed.

    Example:
        >>> import tempfile
        >>> from fnn import config
        >>> before = config.compilation_cache_dir()
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     config.set_compilation_cache(tmp)
        ...     config.compilation_cache_dir() == tmp
        ...     config.set_compilation_cache(before or False)
        True
    """
    global _configured_by_fnn
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(
            f"cache must be True, False or a directory path, got {type(cache).__name__}."
        )
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise TypeError(f"max_size must be an int (bytes, or -1), got {type(max_size).__name__}.")
    if max_size < -1 or max_size == 0:
        raise ValueError(f"max_size must be a positive number of bytes or -1, got {max_size}.")
    if cache is False:
        _jax_cache.reset_cache()
        jax.config.update("jax_compilation_cache_dir", None)
        _configured_by_fnn = None
        return
    if cache is not True and not os.fspath(cache):
        raise ValueError("cache must not be an empty path; pass False to turn the cache off.")
    path = default_cache_dir() if cache is True else Path(os.fspath(cache)).expanduser()
    if max_size != -1 and not _have_filelock():
        raise RuntimeError(
            "a bounded compilation cache needs the 'filelock' package (pip install filelock); "
            "or pass max_size=-1 for an unbounded cache used by one process at a time."
        )
    _jax_cache.reset_cache()
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", max_size)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _configured_by_fnn = str(path)


def apply_default() -> str | None:
    """Apply fnn's default compilation cache, as ``import fnn`` does (see the module docs).

    Does nothing when ``FNN_COMPILATION_CACHE`` says off, when JAX already has a cache
    directory that fnn did not set, when JAX's cache is switched off, or when ``filelock`` is
    missing.

    Returns:
        The directory now in use by fnn's choice, or None when fnn left JAX alone.

    Raises:
        ValueError: if ``FNN_COMPILATION_CACHE`` is set to something that is neither a switch
            (0/1, true/false, on/off, yes/no) nor an absolute path.
    """
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting.lower() in _OFF:
        return None
    if setting.lower() not in _ON and not os.path.isabs(os.path.expanduser(setting)):
        raise ValueError(
            f"{ENV_VAR} must be 0 or 1 (also false/true, off/on, no/yes) or an absolute "
            f"directory path, got {setting!r}."
        )
    own = _jax_option("jax_compilation_cache_dir")
    users_own = own is not None and own != _configured_by_fnn
    if users_own or not _jax_option("jax_enable_compilation_cache") or not _have_filelock():
        return None
    max_size = DEFAULT_MAX_SIZE
    if "JAX_COMPILATION_CACHE_MAX_SIZE" in os.environ:
        max_size = _jax_option("jax_compilation_cache_max_size")
    set_compilation_cache(True if setting.lower() in _ON else setting, max_size=max_size)
    return _configured_by_fnn
