"""Fixtures of the workflow tests (helpers live in ``workflow_builders.py``)."""

from workflow_builders import store, tiny_record

__all__ = ["store", "tiny_record"]
