"""Exercise stress test: protocol file, stage table, ST measurements, METs and the Duke score."""
