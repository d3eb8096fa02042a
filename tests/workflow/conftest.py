"""Fixtures of the workflow tests (helpers live in ``workflow_builders.py``)."""

from workflow_builders import quick_scrypt, store, tiny_record

__all__ = ["quick_scrypt", "store", "tiny_record"]
