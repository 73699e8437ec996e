"""Export the VGG19 feature model to ONNX (needs torch, onnx, onnxscript)."""
