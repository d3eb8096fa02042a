"""Coding: CPT/HCPCS reference tables with provenance and dates, code selection, claim scrubbing."""
