"""Workflow: the study lifecycle from order to signed report, codes and a scrubbed claim."""
