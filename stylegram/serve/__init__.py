"""Serving the feature model: a Triton model repository, a PyTriton server, and clients that take
targets from a server. Needs the ``serve`` extra; nothing here imports torch."""
