"""The Python client's first home; it is :mod:`pathgrad.client` now (import it from there)."""

import warnings

from pathgrad.client import *  # noqa: F403
from pathgrad.client import __all__  # noqa: F401

warnings.warn("service.client is pathgrad.client now: import it from there",
              DeprecationWarning, stacklevel=2)
