"""Fixtures of the workflow tests (the helpers live in ``workflow_builders.py``).

Under pytest's default ("prepend") import mode this file and ``tests/conftest.py`` share the module name
``conftest``, and test modules elsewhere do ``from conftest import shared_path``: so everything the root
conftest defines is re-exported here too, whichever of the two was imported last.
"""

import importlib.util
from pathlib import Path

from workflow_builders import quick_scrypt, store, tiny_record

_spec = importlib.util.spec_from_file_location(
    "ecgdesk_tests_root_conftest", Path(__file__).parents[1] / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
globals().update({name: value for name, value in vars(_root).items() if not name.startswith("__")})

__all__ = ["quick_scrypt", "store", "tiny_record"]
