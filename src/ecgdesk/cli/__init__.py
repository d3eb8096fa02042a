"""Command-line face: parse, call a domain or workflow function, print. No logic of its own."""
