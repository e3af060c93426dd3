"""Benchmarks: every figure is a ratio or a side-by-side comparison measured in one run, on the
same machine, because these machines are shared and noisy. Run them all with `make bench`."""
