"""Serving the feature model: a Triton model repository, a PyTriton server, and clients that take
targets from a server. Needs the ``serve`` extra; nothing here imports torch."""

DEFAULT_NAME = "stylegram_vgg19"  # the model name served, exported and asked for unless told otherwise
