"""Train the call-time model inside a venv that matches the target sklearn image, and pickle it there.

    python -m inference.examples.call_time.train --container sklearn-1.4-2 --out build/call_time/estimator.joblib

Why a separate venv: the pickle must be written by the scikit-learn (and numpy major) the image runs, or the
endpoint fails at startup (the build refuses it anyway). Run from the main environment, this module re-runs
itself with `--in-env` under the image-matching Python (inference.build.sklearn.train_python); there it
generates the synthetic data, fits the pipeline and writes the estimator plus its serving spec sidecar
(NAME.serving.json), which `python -m inference build sklearn` packs next to the model.

The pipeline holds only scikit-learn objects (no functions from this repository), so it unpickles in the
image without our code: one-hot segment/age/channel/day/hour + numeric timezone offset and past answer rate
-> histogram gradient boosting, which learns the segment x hour interactions of the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from inference.examples.call_time.features import FEATURE_NAMES, NUMERIC, ONE_HOT, serving_spec

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_ROWS = 40000


def make_pipeline(seed: int = 0) -> Any:
    """The unfitted pipeline (works with scikit-learn 1.2 and later: `sparse_output` arrived in 1.2)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer([
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         [FEATURE_NAMES.index(n) for n in ONE_HOT]),
        ("numeric", "passthrough", [FEATURE_NAMES.index(n) for n in NUMERIC]),
    ])
    # Early stopping on a held-out 10 % whatever the data size (the default enables it only above 10k rows).
    model = HistGradientBoostingClassifier(max_iter=250, learning_rate=0.08, max_leaf_nodes=31, l2_regularization=1.0,
                                           early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
                                           random_state=seed)
    return Pipeline([("columns", columns), ("model", model)])


def fit(n_rows: int = DEFAULT_ROWS, seed: int = 0) -> Any:
    """Generate the synthetic data and fit the pipeline in the current environment."""
    import numpy as np

    from inference.examples.call_time.data import generate

    rows, labels = generate(n_rows, seed)
    return make_pipeline(seed).fit(np.array(rows, dtype=object), np.array(labels))


def _train_here(out: Path, container: str, n_rows: int, seed: int) -> Path:
    """Fit and pickle in this interpreter, which must run the image's scikit-learn."""
    import joblib
    import sklearn

    from inference.build.containers import get_container
    from inference.build.sklearn import spec_path_for

    want = get_container(container).packages["scikit-learn"]
    if sklearn.__version__ != want:
        raise SystemExit(f"--in-env needs scikit-learn {want} for {container}, this interpreter has "
                         f"{sklearn.__version__}; run without --in-env to use the matching venv")
    pipeline = fit(n_rows, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out)
    spec_path_for(out).write_text(json.dumps(serving_spec(), indent=1, sort_keys=True) + "\n")
    return out


def train_estimator(out_path: str | Path, container: str = "sklearn-1.4-2", *, n_rows: int = DEFAULT_ROWS,
                    seed: int = 0, log: Any = None) -> Path:
    """Train and pickle the example in the venv matching `container`; returns the estimator path.

    Also writes the serving spec sidecar next to it. The venv is built on first use (cached in .cache/venvs).
    """
    from inference.build.sklearn import sklearn_container, train_python

    c = sklearn_container(container)
    out = Path(out_path).resolve()
    python = train_python(c.key, log=log)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [str(python), "-m", "inference.examples.call_time.train", "--in-env", "--container", c.key,
           "--out", str(out), "--rows", str(n_rows), "--seed", str(seed)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"training in {python} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.examples.call_time.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--container", default="sklearn-1.4-2", help="target sklearn image key (default sklearn-1.4-2)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the pickled pipeline (.joblib)")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="synthetic training rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-env", action="store_true", help=argparse.SUPPRESS)  # already in the matching venv
    args = parser.parse_args(argv)
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    try:
        if args.in_env:
            path = _train_here(args.out, args.container, args.rows, args.seed)
        else:
            path = train_estimator(args.out, args.container, n_rows=args.rows, seed=args.seed,
                                   log=lambda m: print(m, file=sys.stderr))
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
