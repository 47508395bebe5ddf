"""Worked examples of artifacts built by `inference` (training code, synthetic data, serving specs)."""
