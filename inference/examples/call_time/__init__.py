"""The "optimal call time" example: contact features + hour/day -> probability the call is answered.

features.py defines the request contract (the serving spec), data.py a deterministic synthetic data set with a
known ground truth, train.py trains the scikit-learn pipeline in a venv that matches the target image.
"""
