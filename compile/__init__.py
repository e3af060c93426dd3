"""Builds model artifacts: the Neuron compile, packaging, and the tiny offline SDXL for tests."""
