"""ONNX Runtime side: sessions, targets and the style Gram cache. Imports no torch."""
