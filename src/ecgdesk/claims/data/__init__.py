"""Reference data of the claims package (denial rules)."""
