"""Tiny fake backends, one per behaviour, selected per test with SDXL_BACKEND=tests.fakes.<module>:Backend.

They run in the real model worker processes behind the real server (the Cog test style): the server
path is real, only the pipeline is replaced. Each returns small deterministic images, except `noisy`
(random pixels on every call, so only the result cache can answer twice with the same bytes).
"""
