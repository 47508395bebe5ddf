"""A tiny embeddings handler with the real one's contract (handlers/embeddings.py), for fast client tests.

Vectors are hashed bags of words (so a paraphrase sharing words is closer than an unrelated sentence),
L2-normalised, 64 dimensions; texts longer than 200 characters are "truncated". It records every text it
embeds and every body size, can hold requests on a gate, and crashes on the text "__crash__".
Config (config.json next to the code dir): max_batch, normalize.
"""

import hashlib
import json
import math
import os
import re
import threading

from sls_errors import RequestError

DIMENSIONS = 64
MAX_CHARS = 200


def vector(text, normalize=True):
    v = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()) or [text]:
        h = hashlib.sha256(word.encode("utf-8", "surrogatepass")).digest()
        v[h[0] % DIMENSIONS] += 1.0 if h[1] % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v] if normalize else [x * 3 for x in v]


def model_fn(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    gate = threading.Event()
    gate.set()
    return {"config": config, "seen": [], "bodies": [], "lock": threading.Lock(), "gate": gate}


_state = {}


def input_fn(body, content_type):
    if (content_type or "").split(";")[0].strip() != "application/json":
        raise RequestError(415, f"content type {content_type!r} is not supported; send application/json")
    try:
        data = json.loads(body)
    except ValueError as e:
        raise RequestError(400, f"malformed JSON: {e}") from None
    if not isinstance(data, dict) or "inputs" not in data:
        raise RequestError(400, "expected a JSON object {\"inputs\": \"text\"} or {\"inputs\": [\"text\", ...]}")
    inputs = data["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list):
        raise RequestError(400, "'inputs' must be a string or a list of strings")
    if not inputs:
        raise RequestError(400, "'inputs' is an empty list; send at least one string")
    for i, t in enumerate(inputs):
        if not isinstance(t, str):
            raise RequestError(400, f"inputs[{i}] is not a string; every input must be a string")
        if not t.strip():
            raise RequestError(400, f"inputs[{i}] is empty or only whitespace; every input must contain text")
    return {"texts": inputs, "size": len(body)}


def predict_fn(data, model):
    max_batch = model["config"]["max_batch"]
    if len(data["texts"]) > max_batch:
        raise RequestError(413, f"'inputs' has {len(data['texts'])} items; this endpoint accepts at most {max_batch} "
                                "per request")
    if "__crash__" in data["texts"]:
        raise ZeroDivisionError("the fake model crashed")
    model["gate"].wait(60)
    with model["lock"]:
        model["seen"].extend(data["texts"])
        model["bodies"].append(data["size"])
    normalize = model["config"].get("normalize", True)
    return {"embeddings": [vector(t, normalize) for t in data["texts"]], "model": "fake-bow",
            "dimensions": DIMENSIONS, "truncated": [len(t) > MAX_CHARS for t in data["texts"]]}


def output_fn(prediction, accept):
    return json.dumps(prediction)
