"""goaldrift: which objective does a learned optimizer end up pursuing, and when does it
start tampering with its own training signal?"""

from goaldrift.errors import ConfigError, GoaldriftError, UnknownNameError
from goaldrift.worlds.gridworlds.registration import register_envs as _register_envs

_register_envs()  # the Gymnasium ids goaldrift/<World>-v0 (cheap: nothing compiles)

__version__ = "0.1.0"
__all__ = ["ConfigError", "GoaldriftError", "UnknownNameError", "__version__"]
