"""goaldrift: which objective does a learned optimizer end up pursuing, and when does it
start tampering with its own training signal?"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from goaldrift import kernel_cache as _kernel_cache

_kernel_cache.configure()  # before any kernel is defined

from goaldrift.errors import ConfigError, GoaldriftError, UnknownNameError  # noqa: E402
from goaldrift.worlds import register_envs as _register_envs  # noqa: E402

_register_envs()  # the Gymnasium ids goaldrift/<World>-v0, RegisterQA-v0 (cheap: nothing compiles)

try:
    __version__ = _version("goaldrift")  # one place: pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
__all__ = ["ConfigError", "GoaldriftError", "UnknownNameError", "__version__"]
