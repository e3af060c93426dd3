"""Helpers for the image test: buildah driving and the stand-in Neuron base."""
