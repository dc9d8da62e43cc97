"""bounded_subprocess: run misbehaving programs with hard bounds.

A drop-in for the Python library of the same name, backed by the C++ library:
the same modules, functions and keyword arguments. Linux only.

    from bounded_subprocess import run
    result = run(["echo", "hello"], timeout_seconds=5)
"""

from . import _native
from .bounded_subprocess import run
from .util import SLEEP_BETWEEN_READS, Result

#: The version of this package (the C++ project's version).
__version__: str = _native.__version__

__all__ = ["run", "Result", "SLEEP_BETWEEN_READS"]
