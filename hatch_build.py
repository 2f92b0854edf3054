"""Build hook: stop an install on Python older than 3.12 with a message that says so.

pip releases before 23.3 (the one Python 3.11 ships with among them) resolve the dependencies of a local
project before they check its ``requires-python``, so ``pip install -e .`` on Python 3.11 ended in "No matching
distribution found for mesa>=3.4", which does not say what is wrong. Hatchling runs this hook while it prepares
the project's metadata, before any dependency is looked at.
"""

from __future__ import annotations

import sys

from hatchling.metadata.plugin.interface import MetadataHookInterface

NEEDED = (3, 12)


class PythonVersionHook(MetadataHookInterface):
    """Refuses to prepare quartiersim's metadata on a Python older than :data:`NEEDED`."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict) -> None:
        """Raise when this Python is too old; the metadata is left as written in pyproject.toml."""
        if sys.version_info < NEEDED:
            raise RuntimeError(
                f"quartiersim needs Python {NEEDED[0]}.{NEEDED[1]} or newer (Mesa 3.4+ does); this is Python "
                f"{sys.version.split()[0]}. Create the virtual environment with python3.12, e.g. "
                "`python3.12 -m venv .venv`.")
