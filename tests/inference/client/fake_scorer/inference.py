"""A tiny scorer handler with the scikit-learn handler's generic contract: {"instances": [[x, y], ...]} ->
{"predictions": [{"label": 0|1, "probabilities": {...}}]}; a row without two numbers gets a 400."""

import json

from sls_errors import RequestError

MAX_INSTANCES = 5


def model_fn(model_dir):
    return {"seen": []}


def input_fn(body, content_type):
    try:
        data = json.loads(body)
    except ValueError as e:
        raise RequestError(400, f"request body is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("instances"), list) or not data["instances"]:
        raise RequestError(400, 'request has no "instances" field (a non-empty list)')
    if len(data["instances"]) > MAX_INSTANCES:
        raise RequestError(413, f"{len(data['instances'])} instances in one request; the maximum is {MAX_INSTANCES}")
    for i, row in enumerate(data["instances"]):
        if not isinstance(row, list) or len(row) != 2 or not all(isinstance(v, (int, float)) for v in row):
            got = f"{len(row)} values" if isinstance(row, list) else "no list"
            raise RequestError(400, f"instances[{i}] has {got}; the model expects 2 features")
    return data


def predict_fn(data, model):
    model["seen"].extend(map(tuple, data["instances"]))
    shift = data.get("shift", 0)
    out = []
    for x, y in data["instances"]:
        p = min(1.0, max(0.0, (x + y + shift) / 2))
        out.append({"label": int(p > 0.5), "probabilities": {"0": round(1 - p, 6), "1": round(p, 6)}})
    return {"predictions": out}


def output_fn(prediction, accept):
    return json.dumps(prediction)
