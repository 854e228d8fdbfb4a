"""Training, evaluation and export. Only `train`, `export` and `architectures` import TensorFlow."""
