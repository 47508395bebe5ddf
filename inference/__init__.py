"""Model artifacts (model.tar.gz) for SageMaker Serverless endpoints, in three roles.

- build/: everything that decides an artifact's bytes (the embeddings and scikit-learn builds, export and
  quantization, vendoring, the quality gate, the reproducible tarball) and the one artifact cache.
- handlers/: what runs inside the container as code/inference.py; standard library and vendored wheels only,
  never this package.
- tools/: local tools that use artifacts without shaping them: serve, bench, cost, demo.
limits.py holds the AWS limits and names everyone shares, manifest.py the typed manifest.json schema;
`python -m inference` is the command line (__main__.py).
"""
