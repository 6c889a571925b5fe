"""The Python client, kept here under its first name: it is :mod:`pathgrad.client`."""

from pathgrad.client import *  # noqa: F403
from pathgrad.client import __all__  # noqa: F401
