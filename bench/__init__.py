"""Benchmarks: measurements of this CSMS, run by hand or by `make bench`."""
