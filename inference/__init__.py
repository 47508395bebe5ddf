"""Build, verify, serve and benchmark SageMaker Serverless model artifacts (model.tar.gz).

Modules: containers (target images), artifact (reproducible tarballs + manifest), embeddings_build and
sklearn_build (the two artifact kinds), handlers/ (code copied into the artifact's code/), serve (local
endpoint), bench and cost (measured performance and price), demo (the README's main command).
"""
