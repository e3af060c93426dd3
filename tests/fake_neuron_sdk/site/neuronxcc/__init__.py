"""Test stand-in: the real package comes from the Neuron SDK."""
