"""``python -m pathgrad``: the command line, importing pathgrad's own modules only.

``python -m`` puts the current folder first on the import path; a ``worker.py``,
``service.py`` or ``celery.py`` there would then stand in for pathgrad's own
packages. The folder is taken off the path before anything else is imported (the
package's ``__init__`` imports nothing of its own on the way here).
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.abspath(os.curdir):
    del sys.path[0]

from pathgrad.cli import main  # noqa: E402 (the import path is set up first)

sys.exit(main())
