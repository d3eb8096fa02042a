"""Fixtures of the service tests (helpers in ``service_builders.py``); the root conftest's names are
re-exported (see :func:`backends.root_conftest`)."""

from service_builders import api, cheap_hashes, store, tiny_files

from backends import root_conftest

globals().update(root_conftest())

__all__ = ["api", "cheap_hashes", "store", "tiny_files"]
