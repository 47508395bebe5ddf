"""Handler sources copied into an artifact's `code/` directory.

These files run inside the SageMaker containers (Python 3.9 to 3.12), so they use only the standard
library plus what the target image ships or the build vendors; they never import the `inference` package.
Sibling modules carry an `sls_` prefix so they cannot clash with anything on the container's sys.path.
"""
