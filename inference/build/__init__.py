"""Everything that determines an artifact's bytes: the two builds, their inputs and the one artifact cache.

A change to any file in this folder (or in handlers/, limits.py, manifest.py) invalidates cached artifacts
(cache.py hashes these folders), so code that does not shape an artifact belongs in tools/ instead.
"""
