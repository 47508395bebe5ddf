"""Handler for scikit-learn artifacts; the build copies it to the artifact's `code/inference.py`.

Runs inside the sagemaker-scikit-learn image (Python 3.9/3.10, its scikit-learn/numpy/joblib), in the local
server and in tests, so it uses only the standard library plus what that image ships (numpy, joblib, sklearn,
imported lazily).

Two request contracts:
- With a serving spec (`serving_spec.json` next to the model, written by the build): instances are JSON objects
  validated field by field against the spec (type, allowed values, range), so a bad request names the field and
  what is allowed. A spec with a `sweep` (the call-time example sweeps `hour`) scores every candidate value per
  instance and returns the probabilities and the best value.
- Without a spec: {"instances": [[...], ...]} or [{...}, ...] (objects need `feature_names_in_`), answered with
  the predicted label and, when the estimator has predict_proba, the class probabilities.

Client errors: every bad request raises `RequestError` (4xx + reason), which sagemaker-inference's Transformer
(multi-model/MMS path of the image) and the local server turn into the response. The image's *single-model*
path (what a serverless endpoint runs: gunicorn + Flask from sagemaker-containers, see
sagemaker_sklearn_container/serving.py) wraps any exception raised by input_fn/predict_fn/output_fn into a
ClientError that Flask answers with 500, so there the error is carried to output_fn, which returns a Flask
response with the 4xx status instead (`_fail`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

try:  # imported as inference.handlers.sklearn (build, tests, local server)
    from .sls_errors import RequestError, bad_request, not_acceptable, too_large, unsupported_media_type
    from .sls_integrity import verify_manifest
except ImportError:  # running as code/inference.py inside an artifact, next to the sls_* modules
    from sls_errors import RequestError, bad_request, not_acceptable, too_large, unsupported_media_type
    from sls_integrity import verify_manifest

MODEL_FILE = "model.joblib"
SPEC_FILE = "serving_spec.json"
SPEC_FORMAT = 1
JSON = "application/json"
MAX_BODY_BYTES = 4 * 1024 * 1024  # serverless request payload limit (AWS serverless-endpoints docs)
DEFAULT_MAX_INSTANCES = 1000
FEATURE_TYPES = ("category", "integer", "number")


class SpecError(ValueError):
    """The serving spec is malformed (a build-time error, never a request error)."""


# ---------------------------------------------------------------------------------------------- serving spec
def validate_spec(spec: Any) -> dict:
    """Check a serving spec's shape; return it. Shared by the build (refuses a bad spec) and model_fn."""
    if not isinstance(spec, dict):
        raise SpecError("serving spec must be a JSON object")
    if spec.get("format") != SPEC_FORMAT:
        raise SpecError(f"serving spec 'format' must be {SPEC_FORMAT}, got {spec.get('format')!r}")
    features = spec.get("features")
    if not isinstance(features, list) or not features:
        raise SpecError("serving spec 'features' must be a non-empty list (in the model's column order)")
    names = []
    for i, f in enumerate(features):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise SpecError(f"serving spec features[{i}] must be an object with a non-empty 'name'")
        if f.get("type") not in FEATURE_TYPES:
            raise SpecError(f"feature {f['name']!r}: 'type' must be one of {', '.join(FEATURE_TYPES)}")
        if f["type"] == "category":
            allowed = f.get("allowed")
            if not isinstance(allowed, list) or not allowed:
                raise SpecError(f"category feature {f['name']!r} needs a non-empty 'allowed' list")
        for bound in ("min", "max"):
            if bound in f and (isinstance(f[bound], bool) or not isinstance(f[bound], (int, float))):
                raise SpecError(f"feature {f['name']!r}: {bound!r} must be a number")
        names.append(f["name"])
    if len(set(names)) != len(names):
        raise SpecError("serving spec feature names must be unique")
    for name in spec.get("request_level", []):
        if name not in names:
            raise SpecError(f"request_level feature {name!r} is not among the features {names}")
    sweep = spec.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict) or sweep.get("feature") not in names:
            raise SpecError(f"sweep.feature must name one of the features {names}")
        if not isinstance(sweep.get("request_key"), str) or not sweep["request_key"]:
            raise SpecError("sweep.request_key (the request field listing candidate values) must be a string")
        if not isinstance(sweep.get("default"), list) or not sweep["default"]:
            raise SpecError("sweep.default (candidate values when the request gives none) must be a non-empty list")
        if spec.get("positive_class") is None:
            raise SpecError("a sweep needs 'positive_class': the class whose probability is maximised")
    max_instances = spec.get("max_instances", DEFAULT_MAX_INSTANCES)
    if isinstance(max_instances, bool) or not isinstance(max_instances, int) or max_instances < 1:
        raise SpecError("max_instances must be a positive integer")
    return spec


def _coerce(feature: dict, value: Any, where: str) -> Any:
    """One field of one instance, checked against its spec entry (raises a 400 naming it)."""
    name, kind = feature["name"], feature["type"]
    if kind == "category":
        allowed = feature["allowed"]
        if isinstance(value, bool) or value not in allowed:
            shown = ", ".join(json.dumps(a) for a in allowed)
            raise bad_request(f"{where}.{name} = {json.dumps(value)} is not allowed; allowed values: {shown}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{where}.{name} must be a{'n integer' if kind == 'integer' else ' number'}, "
                          f"got {json.dumps(value)}")
    if not _finite(value):
        raise bad_request(f"{where}.{name} must be a finite number of reasonable size")
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise bad_request(f"{where}.{name} must be an integer, got {value}")
        value = int(value)
    lo, hi = feature.get("min"), feature.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise bad_request(f"{where}.{name} = {value} is out of range; allowed: {lo} to {hi}")
    return value


# ---------------------------------------------------------------------------------------------- model
class LoadedModel:
    """A fitted estimator plus the request contract it is served with (what model_fn returns)."""

    def __init__(self, estimator: Any, spec: dict | None = None):
        self.estimator = estimator
        self.spec = validate_spec(spec) if spec is not None else None
        self.has_proba = hasattr(estimator, "predict_proba")
        classes = getattr(estimator, "classes_", None)
        self.classes = [_plain(c) for c in classes] if classes is not None else None
        self.positive_index = None
        if self.spec is not None and self.spec.get("sweep") is not None:
            if not self.has_proba or self.classes is None:
                raise SpecError("a sweep needs a classifier with predict_proba")
            positive = self.spec["positive_class"]
            if positive not in self.classes:
                raise SpecError(f"positive_class {positive!r} is not among the estimator's classes {self.classes}")
            self.positive_index = self.classes.index(positive)
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names = [str(n) for n in names] if names is not None else None
        self.n_features = getattr(estimator, "n_features_in_", None)

    @property
    def max_instances(self) -> int:
        return (self.spec or {}).get("max_instances", DEFAULT_MAX_INSTANCES)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so they compare with JSON values and serialize."""
    return value.item() if hasattr(value, "item") else value


def model_fn(model_dir: str) -> LoadedModel:
    """Verify the artifact, refuse a scikit-learn version other than the one it was built for, load it."""
    manifest = verify_manifest(model_dir)
    import joblib
    import sklearn

    wanted = (manifest.get("model") or {}).get("sklearn_version")
    if wanted and wanted != sklearn.__version__:
        target = manifest.get("container") or {}
        raise RuntimeError(
            f"this artifact was built for scikit-learn {wanted} (image {target.get('repository')}:"
            f"{target.get('tag')}), but this "
            f"environment runs scikit-learn {sklearn.__version__}: deploy it on the image it was built for, or "
            "rebuild it with `python -m inference build sklearn --container ...` for this image"
        )
    spec = None
    spec_path = os.path.join(model_dir, SPEC_FILE)
    if os.path.exists(spec_path):
        with open(spec_path) as f:
            spec = json.load(f)
    return LoadedModel(joblib.load(os.path.join(model_dir, MODEL_FILE)), spec)


# ---------------------------------------------------------------------------------------------- request
class _Rejected:
    """A client error carried to output_fn (sagemaker-containers' Flask path answers exceptions with 500)."""

    def __init__(self, error: RequestError):
        self.error = error


def _under_flask_worker() -> bool:
    """True inside the sklearn image's single-model server (sagemaker-containers Worker, a Flask app)."""
    flask = sys.modules.get("flask")
    return flask is not None and "sagemaker_containers" in sys.modules and flask.has_request_context()


def _fail(error: RequestError) -> Any:
    """Raise the client error, or, under the Flask worker, defer it so output_fn can answer 4xx."""
    if _under_flask_worker():
        return _Rejected(error)
    raise error


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def input_fn(body: Any, content_type: str | None) -> Any:
    """Decode a JSON request body into a dict (validation against the model happens in predict_fn)."""
    try:
        return _decode(body, content_type)
    except RequestError as e:
        return _fail(e)


def _decode(body: Any, content_type: str | None) -> dict:
    media = _media_type(content_type)
    if media not in ("", JSON):
        raise unsupported_media_type(f"content type {content_type!r} is not supported; send {JSON}")
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, bytearray):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise bad_request(f"request body must be bytes or text, got {type(body).__name__}")
    if len(body) > MAX_BODY_BYTES:
        raise too_large(f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (4 MB): "
                        "send fewer instances per request")

    def _no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise bad_request(f"request body is not UTF-8: {e}") from e
    except ValueError as e:
        raise bad_request(f"request body is not valid JSON: {e}") from e
    except RecursionError as e:
        raise bad_request("request body nests JSON too deeply") from e
    if not isinstance(data, dict):
        raise bad_request('request must be a JSON object like {"instances": [...]}, '
                          f"got a JSON {type(data).__name__}")
    return data


def predict_fn(data: Any, model: LoadedModel) -> Any:
    """Validate the request against the model's contract and predict."""
    if isinstance(data, _Rejected):
        return data
    try:
        if model.spec is None:
            return _predict_generic(data, model)
        return _predict_spec(data, model)
    except RequestError as e:
        return _fail(e)


def _instances(data: dict, model: LoadedModel, extra_keys: tuple[str, ...]) -> list:
    allowed = ("instances", *extra_keys)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise bad_request(f"unknown request field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    if "instances" not in data:
        raise bad_request('request has no "instances" field (a non-empty list)')
    instances = data["instances"]
    if not isinstance(instances, list):
        raise bad_request(f'"instances" must be a list, got {type(instances).__name__}')
    if not instances:
        raise bad_request('"instances" is empty; send at least one instance')
    if len(instances) > model.max_instances:
        raise too_large(f'{len(instances)} instances in one request; the maximum is {model.max_instances}')
    return instances


def _predict_spec(data: dict, model: LoadedModel) -> dict:
    import numpy as np

    spec = model.spec
    features = spec["features"]
    by_name = {f["name"]: f for f in features}
    sweep = spec.get("sweep")
    request_level = list(spec.get("request_level", []))
    extra = tuple(request_level) + ((sweep["request_key"],) if sweep else ())
    instances = _instances(data, model, extra)

    shared = {name: _coerce(by_name[name], data[name], "request") for name in request_level if name in data}
    per_instance = [f for f in features if not sweep or f["name"] != sweep["feature"]]
    rows = []
    for i, inst in enumerate(instances):
        where = f"instances[{i}]"
        if not isinstance(inst, dict):
            raise bad_request(f"{where} must be a JSON object of features, got {type(inst).__name__}")
        allowed_names = [f["name"] for f in per_instance]
        unknown = sorted(set(inst) - set(allowed_names))
        if unknown:
            raise bad_request(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed_names)}")
        row = {}
        for f in per_instance:
            name = f["name"]
            if name in inst:
                row[name] = _coerce(f, inst[name], where)
            elif name in shared:
                row[name] = shared[name]
            elif "default" in f:
                row[name] = f["default"]
            else:
                raise bad_request(f"{where} is missing {name!r} ({_describe(f)})")
        rows.append(row)

    names = [f["name"] for f in features]
    if sweep is None:
        matrix = np.array([[row[n] for n in names] for row in rows], dtype=object)
        return _label_predictions(model, matrix)

    key, feature = sweep["request_key"], by_name[sweep["feature"]]
    candidates = data.get(key, sweep["default"])
    if not isinstance(candidates, list) or not candidates:
        raise bad_request(f'"{key}" must be a non-empty list of {sweep["feature"]} values ({_describe(feature)})')
    candidates = [_coerce(feature, v, f"{key}[{j}]") for j, v in enumerate(candidates)]
    if len(set(candidates)) != len(candidates):
        raise bad_request(f'"{key}" lists a value twice; give each candidate once')
    matrix = np.array(
        [[c if n == sweep["feature"] else row[n] for n in names] for row in rows for c in candidates], dtype=object
    )
    proba = model.estimator.predict_proba(matrix)[:, model.positive_index].reshape(len(rows), len(candidates))
    out = []
    for row, p in zip(rows, proba):  # noqa: B905 - runs on Python 3.9 (sklearn 1.2-1 image)
        best = int(np.argmax(p))
        item = {
            f"best_{sweep['feature']}": candidates[best],
            "best_probability": round(float(p[best]), 6),
            "probabilities": {str(c): round(float(v), 6) for c, v in zip(candidates, p)},  # noqa: B905 - Python 3.9
        }
        item.update({n: row[n] for n in request_level if n != sweep["feature"]})
        out.append(item)
    return {"predictions": out}


def _describe(feature: dict) -> str:
    if feature["type"] == "category":
        return "one of " + ", ".join(json.dumps(a) for a in feature["allowed"])
    lo, hi = feature.get("min"), feature.get("max")
    rng = f" from {lo} to {hi}" if lo is not None or hi is not None else ""
    return f"{'an integer' if feature['type'] == 'integer' else 'a number'}{rng}"


def _predict_generic(data: dict, model: LoadedModel) -> dict:
    import numpy as np

    instances = _instances(data, model, ())
    kinds = {type(x) for x in instances}
    if kinds <= {list}:
        width = model.n_features
        for i, inst in enumerate(instances):
            if width is not None and len(inst) != width:
                raise bad_request(f"instances[{i}] has {len(inst)} values; the model expects {width} features")
            for j, v in enumerate(inst):
                if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                    raise bad_request(f"instances[{i}][{j}] must be a number or a string, got {json.dumps(v)}")
                if not isinstance(v, str) and not _finite(v):
                    raise bad_request(f"instances[{i}][{j}] must be a finite number of reasonable size")
        if len({len(inst) for inst in instances}) != 1:
            raise bad_request("all instances must have the same number of values")
        numeric = all(not isinstance(v, str) for inst in instances for v in inst)
        matrix: Any = np.array(instances, dtype=float if numeric else object)
    elif kinds <= {dict}:
        names = model.feature_names
        if names is None:
            raise bad_request("this model was trained without feature names: send each instance as a list of "
                              f"{model.n_features if model.n_features is not None else 'its'} values")
        rows = []
        for i, inst in enumerate(instances):
            missing = [n for n in names if n not in inst]
            unknown = sorted(set(inst) - set(names))
            if missing or unknown:
                raise bad_request(f"instances[{i}]: missing {missing}, unknown {unknown}; the features are {names}")
            for n in names:
                v = inst[n]
                if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                    raise bad_request(f"instances[{i}].{n} must be a number or a string, got {json.dumps(v)}")
            rows.append([inst[n] for n in names])
        try:
            import pandas as pd

            matrix = pd.DataFrame(rows, columns=names)
        except ImportError:
            matrix = np.array(rows, dtype=object)
    else:
        raise bad_request("instances must all be lists (values in feature order) or all be objects (by feature name)")
    try:
        return _label_predictions(model, matrix)
    except (ValueError, TypeError) as e:  # the estimator refused values the shallow checks let through
        raise bad_request(f"the model could not use these instances: {e}") from e


def _label_predictions(model: LoadedModel, matrix: Any) -> dict:
    labels = model.estimator.predict(matrix)
    out = []
    if model.has_proba and model.classes is not None:
        proba = model.estimator.predict_proba(matrix)
        for label, p in zip(labels, proba):  # noqa: B905 - Python 3.9
            out.append({"label": _plain(label),
                        "probabilities": {str(c): round(float(v), 6) for c, v in zip(model.classes, p)}})  # noqa: B905
    else:
        out = [{"label": _plain(label)} for label in labels]
    return {"predictions": out}


def output_fn(prediction: Any, accept: str | None) -> Any:
    """Serialize to JSON; under the sklearn image's Flask worker a deferred client error becomes a 4xx response."""
    if isinstance(prediction, _Rejected):
        return _error_response(prediction.error)
    media = _media_type(accept)
    if media not in ("", "*/*", JSON):
        error = not_acceptable(f"cannot answer in {accept!r}; accept {JSON}")
        if _under_flask_worker():
            return _error_response(error)
        raise error
    return json.dumps(prediction), JSON


def _error_response(error: RequestError) -> Any:
    from sagemaker_containers.beta.framework import worker

    body = json.dumps({"error": error.reason, "status": error.status_code})
    return worker.Response(response=body, status=error.status_code, mimetype=JSON)
