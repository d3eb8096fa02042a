"""Fixtures of the workflow tests (the helpers live in ``workflow_builders.py``); the root conftest's names
are re-exported (see :func:`backends.root_conftest`)."""

from workflow_builders import quick_scrypt, store, tiny_record

from backends import root_conftest

globals().update(root_conftest())

__all__ = ["quick_scrypt", "store", "tiny_record"]
