"""The scikit-learn handler's request path, rule by rule, on small stand-in estimators (no fitting: fast).

tests/inference/handlers/test_sklearn.py runs the contract against the fitted call-time pipeline; here each rule
of inference/handlers/sklearn.py is pinned with exact answers: body decoding, the serving spec's checks, field
coercion at its bounds, the sweep (which rows reach the estimator, in which order, and what comes back), the
generic contract, and the image's Flask worker path where a client error must become a 4xx response, not a 500.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.handlers import sklearn as handler
from inference.handlers.sls_errors import RequestError

JSON = "application/json"


class Scorer:
    """A classifier whose P(class 1) is `hour / 100 + tz / 1000`: every answer can be computed by hand.

    Columns are the spec's features in order: segment, tz, rate, day, hour. It records the matrices it is fed.
    """

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self.seen: list[list[list[Any]]] = []

    def predict_proba(self, x: Any) -> np.ndarray:
        rows = np.asarray(x, dtype=object).tolist()
        self.seen.append(rows)
        p = np.array([r[4] / 100 + r[1] / 1000 for r in rows], dtype=float)
        return np.column_stack([1 - p, p])

    def predict(self, x: Any) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] > 0.15).astype(int)


def spec(**overrides: Any) -> dict:
    base = {
        "format": 1,
        "features": [
            {"name": "segment", "type": "category", "allowed": ["a", "b"]},
            {"name": "tz", "type": "integer", "min": -2, "max": 3},
            {"name": "rate", "type": "number", "min": 0.0, "max": 1.0},
            {"name": "day", "type": "integer", "min": 0, "max": 6, "default": 2},
            {"name": "hour", "type": "integer", "min": 8, "max": 20},
        ],
        "request_level": ["day"],
        "sweep": {"feature": "hour", "request_key": "hours", "default": [9, 12, 10]},
        "positive_class": 1,
        "max_instances": 3,
    }
    base.update(overrides)
    return base


def scored(s: dict | None = None) -> handler.LoadedModel:
    return handler.LoadedModel(Scorer(), s if s is not None else spec())


def call(model: handler.LoadedModel, request: Any, content_type: str | None = JSON,
         accept: str | None = JSON) -> Any:
    body = request if isinstance(request, (bytes, str, bytearray)) else json.dumps(request)
    out, media = handler.output_fn(handler.predict_fn(handler.input_fn(body, content_type), model), accept)
    assert media == JSON
    return json.loads(out)


def refusal(model: handler.LoadedModel, request: Any, **kw: Any) -> RequestError:
    with pytest.raises(RequestError) as info:
        call(model, request, **kw)
    return info.value


def contact(**kw: Any) -> dict:
    return {"segment": "a", "tz": 0, "rate": 0.5, **kw}


# ------------------------------------------------------------------------------------------------ decoding
@pytest.mark.parametrize("content_type", [None, "", JSON, "application/json; charset=utf-8", " Application/JSON "])
def test_json_and_an_absent_content_type_are_accepted(content_type: str | None) -> None:
    assert handler.input_fn(b'{"instances": []}', content_type) == {"instances": []}


@pytest.mark.parametrize("body", ['{"instances": [1]}', b'{"instances": [1]}', bytearray(b'{"instances": [1]}')])
def test_text_bytes_and_bytearray_bodies_decode_alike(body: Any) -> None:
    assert handler.input_fn(body, JSON) == {"instances": [1]}


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), [
    (b"{}", "text/csv", 415, "content type 'text/csv' is not supported; send application/json"),
    (b"{}", "application/jsonx", 415, "content type 'application/jsonx' is not supported; send application/json"),
    (12, JSON, 400, "request body must be bytes or text, got int"),
    (None, JSON, 400, "request body must be bytes or text, got NoneType"),
    (b"[1, 2]", JSON, 400, 'request must be a JSON object like {"instances": [...]}, got a JSON list'),
    (b'"text"', JSON, 400, 'request must be a JSON object like {"instances": [...]}, got a JSON str'),
    (b'{"a": NaN}', JSON, 400, "request body is not valid JSON: NaN is not valid JSON"),
    (b'{"a": Infinity}', JSON, 400, "request body is not valid JSON: Infinity is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "request body nests JSON too deeply"),
])
def test_undecodable_bodies_are_refused_with_the_reason(body: Any, content_type: str, status: int,
                                                         reason: str) -> None:
    with pytest.raises(RequestError) as info:
        handler.input_fn(body, content_type)
    assert (info.value.status_code, info.value.reason) == (status, reason)


def test_invalid_utf8_and_invalid_json_name_what_is_wrong() -> None:
    with pytest.raises(RequestError) as info:
        handler.input_fn(b'{"a": "\xff"}', JSON)
    assert info.value.status_code == 400 and info.value.reason.startswith("request body is not UTF-8: ")
    with pytest.raises(RequestError) as info:
        handler.input_fn(b'{"a": ', JSON)
    assert info.value.status_code == 400 and info.value.reason.startswith("request body is not valid JSON: ")


def test_the_body_limit_is_the_serverless_payload_limit_inclusive() -> None:
    limit = handler.MAX_BODY_BYTES
    assert limit == 4 * 1024 * 1024
    at_limit = b'{"a": "' + b"x" * (limit - 9) + b'"}'
    assert len(at_limit) == limit
    assert handler.input_fn(at_limit, JSON)["a"] == "x" * (limit - 9)
    with pytest.raises(RequestError) as info:
        handler.input_fn(at_limit + b" ", JSON)
    assert info.value.status_code == 413
    assert info.value.reason == (f"request body is {limit + 1} bytes; the limit is {limit} bytes (4 MB): "
                                 "send fewer instances per request")


@pytest.mark.parametrize("accept", [None, "", "*/*", JSON, "application/json; q=1", "APPLICATION/JSON"])
def test_json_or_any_accept_is_answered_in_json(accept: str | None) -> None:
    out, media = handler.output_fn({"predictions": [1]}, accept)
    assert (json.loads(out), media) == ({"predictions": [1]}, JSON)


def test_another_accept_is_406_naming_it() -> None:
    with pytest.raises(RequestError) as info:
        handler.output_fn({"predictions": []}, "text/csv")
    assert (info.value.status_code, info.value.reason) == (406, "cannot answer in 'text/csv'; accept application/json")


# ------------------------------------------------------------------------------------------------ the spec
SPEC_ERRORS = [
    (lambda s: [1], "serving spec must be a JSON object"),
    (lambda s: {**s, "format": 2}, "serving spec 'format' must be 1, got 2"),
    (lambda s: {k: v for k, v in s.items() if k != "format"}, "serving spec 'format' must be 1, got None"),
    (lambda s: {**s, "features": []}, "serving spec 'features' must be a non-empty list (in the model's column order)"),
    (lambda s: {**s, "features": {"name": "a"}}, "serving spec 'features' must be a non-empty list"),
    (lambda s: {**s, "features": ["a"]}, "serving spec features[0] must be an object with a non-empty 'name'"),
    (lambda s: {**s, "features": [{"name": ""}]}, "serving spec features[0] must be an object with a non-empty 'name'"),
    (lambda s: {**s, "features": [{"name": 3}]}, "serving spec features[0] must be an object with a non-empty 'name'"),
    (lambda s: {**s, "features": [{"name": "a", "type": "text"}]},
     "feature 'a': 'type' must be one of category, integer, number"),
    (lambda s: {**s, "features": [{"name": "a", "type": "category"}]},
     "category feature 'a' needs a non-empty 'allowed' list"),
    (lambda s: {**s, "features": [{"name": "a", "type": "category", "allowed": "ab"}]},
     "category feature 'a' needs a non-empty 'allowed' list"),
    (lambda s: {**s, "features": [{"name": "a", "type": "integer", "min": True}]},
     "feature 'a': 'min' must be a number"),
    (lambda s: {**s, "features": [{"name": "a", "type": "number", "max": "9"}]}, "feature 'a': 'max' must be a number"),
    (lambda s: {**s, "features": s["features"] + [{"name": "tz", "type": "integer"}]},
     "serving spec feature names must be unique"),
    (lambda s: {**s, "request_level": ["weather"]},
     "request_level feature 'weather' is not among the features ['segment', 'tz', 'rate', 'day', 'hour']"),
    (lambda s: {**s, "sweep": {**s["sweep"], "feature": "minute"}},
     "sweep.feature must name one of the features ['segment', 'tz', 'rate', 'day', 'hour']"),
    (lambda s: {**s, "sweep": ["hour"]}, "sweep.feature must name one of the features"),
    (lambda s: {**s, "sweep": {**s["sweep"], "request_key": ""}},
     "sweep.request_key (the request field listing candidate values) must be a string"),
    (lambda s: {**s, "sweep": {**s["sweep"], "request_key": 5}}, "sweep.request_key"),
    (lambda s: {**s, "sweep": {**s["sweep"], "default": []}},
     "sweep.default (candidate values when the request gives none) must be a non-empty list"),
    (lambda s: {**s, "sweep": {**s["sweep"], "default": 9}}, "sweep.default"),
    (lambda s: {**s, "positive_class": None},
     "a sweep needs 'positive_class': the class whose probability is maximised"),
    (lambda s: {**s, "max_instances": 0}, "max_instances must be a positive integer"),
    (lambda s: {**s, "max_instances": True}, "max_instances must be a positive integer"),
    (lambda s: {**s, "max_instances": 2.0}, "max_instances must be a positive integer"),
]


@pytest.mark.parametrize(("make", "message"), SPEC_ERRORS, ids=[m for _, m in SPEC_ERRORS])
def test_a_malformed_spec_is_refused_with_its_message(make: Any, message: str) -> None:
    with pytest.raises(handler.SpecError) as info:
        handler.validate_spec(make(spec()))
    assert str(info.value).startswith(message), str(info.value)


def test_a_valid_spec_is_returned_and_bounds_may_be_ints_or_floats() -> None:
    s = spec()
    s["features"][1].update(min=-2.0, max=3)
    assert handler.validate_spec(s) is s
    no_sweep = {k: v for k, v in spec().items() if k not in ("sweep", "positive_class", "request_level")}
    assert handler.validate_spec(no_sweep) is no_sweep
    assert handler.validate_spec({**no_sweep, "max_instances": 1})["max_instances"] == 1


def test_max_instances_defaults_to_1000_with_or_without_a_spec() -> None:
    assert handler.DEFAULT_MAX_INSTANCES == 1000
    no_limit = {k: v for k, v in spec().items() if k != "max_instances"}
    assert handler.LoadedModel(Scorer(), no_limit).max_instances == 1000
    assert handler.LoadedModel(Scorer()).max_instances == 1000
    assert scored().max_instances == 3


def test_a_sweep_needs_a_classifier_with_probabilities_and_the_positive_class() -> None:
    class Regressor:
        def predict(self, x: Any) -> Any:
            return x

    with pytest.raises(handler.SpecError, match="^a sweep needs a classifier with predict_proba$"):
        handler.LoadedModel(Regressor(), spec())
    with pytest.raises(handler.SpecError, match=r"^positive_class 7 is not among the estimator's classes \[0, 1\]$"):
        handler.LoadedModel(Scorer(), spec(positive_class=7))
    m = handler.LoadedModel(Scorer(), spec(positive_class=0))
    assert m.positive_index == 0 and m.classes == [0, 1] and all(type(c) is int for c in m.classes)
    assert scored().positive_index == 1


def test_loaded_model_reads_what_the_estimator_exposes() -> None:
    m = handler.LoadedModel(Scorer())
    assert (m.spec, m.has_proba, m.classes, m.positive_index) == (None, True, [0, 1], None)
    assert (m.feature_names, m.n_features) == (None, None)

    class Named:
        feature_names_in_ = np.array(["x", "y"], dtype=object)
        n_features_in_ = 2

        def predict(self, x: Any) -> Any:
            return [0] * len(x)

    named = handler.LoadedModel(Named())
    assert (named.has_proba, named.classes, named.feature_names, named.n_features) == (False, None, ["x", "y"], 2)


# ------------------------------------------------------------------------------------------------ fields
@pytest.mark.parametrize(("value", "expected"), [(-2, -2), (3, 3), (0, 0), (2.0, 2)])
def test_integer_fields_take_their_bounds_and_integral_floats_as_ints(value: Any, expected: int) -> None:
    model = scored()
    call(model, {"instances": [contact(tz=value)], "hours": [10]})
    row = model.estimator.seen[-1][0]
    assert row[1] == expected and type(row[1]) is int


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("tz", -3, "instances[0].tz = -3 is out of range; allowed: -2 to 3"),
    ("tz", 4, "instances[0].tz = 4 is out of range; allowed: -2 to 3"),
    ("tz", 1.5, "instances[0].tz must be an integer, got 1.5"),
    ("tz", "1", 'instances[0].tz must be an integer, got "1"'),
    ("tz", True, "instances[0].tz must be an integer, got true"),
    ("tz", 10**400, "instances[0].tz must be a finite number of reasonable size"),
    ("rate", "0.5", 'instances[0].rate must be a number, got "0.5"'),
    ("rate", 1.01, "instances[0].rate = 1.01 is out of range; allowed: 0.0 to 1.0"),
    ("rate", -0.01, "instances[0].rate = -0.01 is out of range; allowed: 0.0 to 1.0"),
    ("segment", "c", 'instances[0].segment = "c" is not allowed; allowed values: "a", "b"'),
    ("segment", True, 'instances[0].segment = true is not allowed; allowed values: "a", "b"'),
])
def test_a_bad_field_is_a_400_naming_it_the_value_and_what_is_allowed(field: str, value: Any, reason: str) -> None:
    e = refusal(scored(), {"instances": [contact(**{field: value})]})
    assert (e.status_code, e.reason) == (400, reason)


def test_bounds_of_a_number_field_are_inclusive_and_a_bool_is_not_a_category_value() -> None:
    model = scored()
    for rate in (0.0, 1.0, 0):
        call(model, {"instances": [contact(rate=rate)], "hours": [10]})
    one_sided = spec()
    one_sided["features"][1] = {"name": "tz", "type": "integer", "min": -2}
    e = refusal(scored(one_sided), {"instances": [contact(tz=-3)]})
    assert e.reason == "instances[0].tz = -3 is out of range; allowed: -2 to None"
    call(scored(one_sided), {"instances": [contact(tz=10**6)], "hours": [10]})
    flags = spec()
    flags["features"][0] = {"name": "segment", "type": "category", "allowed": [1, 0]}
    e = refusal(scored(flags), {"instances": [contact(segment=True)]})
    assert e.reason == "instances[0].segment = true is not allowed; allowed values: 1, 0"


# ------------------------------------------------------------------------------------------------ instances
@pytest.mark.parametrize(("request_", "status", "reason"), [
    ({"instances": [contact()], "extra": 1, "zzz": 2},
     400, "unknown request field(s) extra, zzz; allowed: instances, day, hours"),
    ({}, 400, 'request has no "instances" field (a non-empty list)'),
    ({"instances": {"a": 1}}, 400, '"instances" must be a list, got dict'),
    ({"instances": []}, 400, '"instances" is empty; send at least one instance'),
    ({"instances": [contact()] * 4}, 413, "4 instances in one request; the maximum is 3"),
    ({"instances": ["a"]}, 400, "instances[0] must be a JSON object of features, got str"),
    ({"instances": [contact(), contact(hour=9, x=1)]},
     400, "instances[1] has unknown field(s) hour, x; allowed: segment, tz, rate, day"),
    ({"instances": [{"segment": "a", "rate": 0.5}]}, 400, "instances[0] is missing 'tz' (an integer from -2 to 3)"),
    ({"instances": [{"segment": "a", "tz": 1}]}, 400, "instances[0] is missing 'rate' (a number from 0.0 to 1.0)"),
    ({"instances": [{"tz": 1, "rate": 0.5}]}, 400, "instances[0] is missing 'segment' (one of \"a\", \"b\")"),
    ({"instances": [contact()], "hours": 10}, 400, '"hours" must be a non-empty list of hour values '
                                                    "(an integer from 8 to 20)"),
    ({"instances": [contact()], "hours": []}, 400, '"hours" must be a non-empty list of hour values '
                                                    "(an integer from 8 to 20)"),
    ({"instances": [contact()], "hours": [9, 21]}, 400, "hours[1].hour = 21 is out of range; allowed: 8 to 20"),
    ({"instances": [contact()], "hours": [9, 10, 9]}, 400, '"hours" lists a value twice; give each candidate once'),
    ({"instances": [contact()], "day": 7}, 400, "request.day = 7 is out of range; allowed: 0 to 6"),
])
def test_bad_requests_get_the_status_and_reason(request_: dict, status: int, reason: str) -> None:
    e = refusal(scored(), request_)
    assert (e.status_code, e.reason) == (status, reason)


def test_max_instances_is_inclusive() -> None:
    assert len(call(scored(), {"instances": [contact()] * 3})["predictions"]) == 3


def test_a_missing_field_without_bounds_is_described_plainly() -> None:
    s = spec()
    s["features"][2] = {"name": "rate", "type": "number"}
    e = refusal(scored(s), {"instances": [{"segment": "a", "tz": 1}]})
    assert e.reason == "instances[0] is missing 'rate' (a number)"
    s["features"][2] = {"name": "rate", "type": "number", "max": 1}
    e = refusal(scored(s), {"instances": [{"segment": "a", "tz": 1}]})
    assert e.reason == "instances[0] is missing 'rate' (a number from None to 1)"


# ------------------------------------------------------------------------------------------------ the sweep
def test_the_sweep_scores_each_candidate_per_instance_in_order_and_picks_the_best() -> None:
    model = scored()
    out = call(model, {"instances": [contact(tz=1), contact(tz=-2, day=5)], "day": 4})
    # rows reach the estimator in the spec's column order, instance by instance, candidates in the given order
    assert model.estimator.seen[-1] == [
        ["a", 1, 0.5, 4, 9], ["a", 1, 0.5, 4, 12], ["a", 1, 0.5, 4, 10],
        ["a", -2, 0.5, 5, 9], ["a", -2, 0.5, 5, 12], ["a", -2, 0.5, 5, 10],
    ]
    assert out == {"predictions": [
        {"best_hour": 12, "best_probability": 0.121, "probabilities": {"9": 0.091, "12": 0.121, "10": 0.101},
         "day": 4},
        {"best_hour": 12, "best_probability": 0.118, "probabilities": {"9": 0.088, "12": 0.118, "10": 0.098},
         "day": 5},
    ]}


def test_the_request_may_give_its_own_candidates_and_the_default_day_applies() -> None:
    model = scored()
    out = call(model, {"instances": [contact()], "hours": [20, 8.0]})
    assert model.estimator.seen[-1] == [["a", 0, 0.5, 2, 20], ["a", 0, 0.5, 2, 8]]
    assert out["predictions"] == [{"best_hour": 20, "best_probability": 0.2,
                                   "probabilities": {"20": 0.2, "8": 0.08}, "day": 2}]


def test_probabilities_are_rounded_to_six_places() -> None:
    class Thirds(Scorer):
        def predict_proba(self, x: Any) -> np.ndarray:
            n = len(np.asarray(x, dtype=object))
            return np.tile([2 / 3, 1 / 3], (n, 1))

    out = call(handler.LoadedModel(Thirds(), spec()), {"instances": [contact()], "hours": [9]})
    assert out["predictions"][0]["probabilities"] == {"9": 0.333333}
    assert out["predictions"][0]["best_probability"] == 0.333333


def test_without_a_sweep_each_instance_gets_a_label_and_probabilities() -> None:
    s = {k: v for k, v in spec().items() if k not in ("sweep", "positive_class")}
    model = scored(s)
    out = call(model, {"instances": [contact(hour=20), contact(hour=8, tz=-2)], "day": 1})
    assert model.estimator.seen[-1] == [["a", 0, 0.5, 1, 20], ["a", -2, 0.5, 1, 8]]
    assert out == {"predictions": [
        {"label": 1, "probabilities": {"0": 0.8, "1": 0.2}},
        {"label": 0, "probabilities": {"0": 0.922, "1": 0.078}},
    ]}
    e = refusal(model, {"instances": [contact()], "hours": [9]})
    assert e.reason == "unknown request field(s) hours; allowed: instances, day"


# ------------------------------------------------------------------------------------------------ generic
class Doubler:
    """A regressor without feature names: 2 x the first value."""

    n_features_in_ = 2

    def predict(self, x: Any) -> list:
        arr = np.asarray(x)
        self.dtype = arr.dtype
        return [2 * float(r[0]) if arr.dtype != object else str(r[0]) * 2 for r in arr]


def test_generic_numeric_lists_reach_the_estimator_as_floats_and_strings_as_objects() -> None:
    d = Doubler()
    model = handler.LoadedModel(d)
    assert call(model, {"instances": [[1, 2], [3.5, 0]]}) == {"predictions": [{"label": 2.0}, {"label": 7.0}]}
    assert d.dtype == float
    assert call(model, {"instances": [["ab", 1]]}) == {"predictions": [{"label": "abab"}]}
    assert d.dtype == object


@pytest.mark.parametrize(("instances", "reason"), [
    ([[1, 2, 3]], "instances[0] has 3 values; the model expects 2 features"),
    ([[1, 2], [1]], "instances[1] has 1 values; the model expects 2 features"),
    ([[1, None]], "instances[0][1] must be a number or a string, got null"),
    ([[False, 1]], "instances[0][0] must be a number or a string, got false"),
    ([[1, 10**400]], "instances[0][1] must be a finite number of reasonable size"),
    ([{"a": 1}], "this model was trained without feature names: send each instance as a list of 2 values"),
    ([[1, 2], {"a": 1}], "instances must all be lists (values in feature order) or all be objects (by feature name)"),
    (["x"], "instances must all be lists (values in feature order) or all be objects (by feature name)"),
])
def test_generic_bad_instances_are_400(instances: list, reason: str) -> None:
    e = refusal(handler.LoadedModel(Doubler()), {"instances": instances})
    assert (e.status_code, e.reason) == (400, reason)


def test_generic_lists_of_unequal_length_are_refused_when_the_width_is_unknown() -> None:
    class Free(Doubler):
        n_features_in_ = None

    e = refusal(handler.LoadedModel(Free()), {"instances": [[1, 2], [1]]})
    assert e.reason == "all instances must have the same number of values"
    e = refusal(handler.LoadedModel(Free()), {"instances": [{"a": 1}]})
    assert e.reason == "this model was trained without feature names: send each instance as a list of its values"


def test_generic_objects_are_checked_against_the_feature_names() -> None:
    class Named:
        feature_names_in_ = np.array(["b", "a"], dtype=object)
        n_features_in_ = 2

        def predict(self, x: Any) -> list:
            return [float(v) for v in np.asarray(x)[:, 0]]  # the first column is b

    model = handler.LoadedModel(Named())
    assert call(model, {"instances": [{"a": 1, "b": 5}]}) == {"predictions": [{"label": 5.0}]}
    e = refusal(model, {"instances": [{"a": 1, "b": 2, "c": 3}]})
    assert e.reason == "instances[0]: missing [], unknown ['c']; the features are ['b', 'a']"
    e = refusal(model, {"instances": [{"a": 1, "b": [2]}]})
    assert e.reason == "instances[0].b must be a number or a string, got [2]"
    e = refusal(model, {"instances": [{"a": 1, "b": True}]})
    assert e.reason == "instances[0].b must be a number or a string, got true"


@pytest.mark.parametrize("error", [ValueError("could not convert"), TypeError("bad operand")])
def test_values_the_estimator_refuses_are_a_400_quoting_it(error: Exception) -> None:
    class Picky(Doubler):
        def predict(self, x: Any) -> list:
            raise error

    e = refusal(handler.LoadedModel(Picky()), {"instances": [[1, 2]]})
    assert (e.status_code, e.reason) == (400, f"the model could not use these instances: {error}")


def test_other_estimator_failures_are_not_client_errors() -> None:
    class Broken(Doubler):
        def predict(self, x: Any) -> list:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        call(handler.LoadedModel(Broken()), {"instances": [[1, 2]]})


# ------------------------------------------------------------------------------------------------ model_fn
def _artifact(root: Path, *, spec_: dict | None, version: str | None = None) -> Path:
    import joblib
    import sklearn

    from inference.build.artifact import write_manifest

    root.mkdir(parents=True)
    joblib.dump({"fitted": "stand-in"}, root / handler.MODEL_FILE)
    if spec_ is not None:
        (root / handler.SPEC_FILE).write_text(json.dumps(spec_))
    write_manifest(root, {"model": {"sklearn_version": version or sklearn.__version__},
                          "container": {"key": "sklearn-1.4-2", "repository": "sagemaker-scikit-learn",
                                        "tag": "1.4-2-cpu-py3"}})
    return root


def test_model_fn_loads_the_estimator_and_the_spec_next_to_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(handler, "LoadedModel", lambda estimator, s=None: (estimator, s))
    s = spec()
    assert handler.model_fn(str(_artifact(tmp_path / "with", spec_=s))) == ({"fitted": "stand-in"}, s)
    assert handler.model_fn(str(_artifact(tmp_path / "without", spec_=None))) == ({"fitted": "stand-in"}, None)


def test_model_fn_names_the_image_an_artifact_was_built_for(tmp_path: Path) -> None:
    import sklearn

    root = _artifact(tmp_path / "m", spec_=None, version="0.0.1")
    with pytest.raises(RuntimeError) as info:
        handler.model_fn(str(root))
    assert str(info.value) == (
        "this artifact was built for scikit-learn 0.0.1 (image sagemaker-scikit-learn:1.4-2-cpu-py3), but this "
        f"environment runs scikit-learn {sklearn.__version__}: deploy it on the image it was built for, or rebuild "
        "it with `python -m inference build sklearn --container ...` for this image"
    )


# ------------------------------------------------------------------------------------------------ Flask worker
class FakeResponse:
    def __init__(self, response: str, status: int, mimetype: str) -> None:
        self.response, self.status, self.mimetype = response, status, mimetype


@pytest.fixture
def flask_worker(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """The sklearn image's single-model server, as the handler sees it: flask with a request context and
    sagemaker_containers imported, whose worker.Response is what output_fn must return for a client error."""
    flask = types.ModuleType("flask")
    context = types.SimpleNamespace(active=True)
    flask.has_request_context = lambda: context.active  # type: ignore[attr-defined]
    worker = types.ModuleType("sagemaker_containers.beta.framework.worker")
    worker.Response = FakeResponse  # type: ignore[attr-defined]
    framework = types.ModuleType("sagemaker_containers.beta.framework")
    framework.worker = worker  # type: ignore[attr-defined]
    beta = types.ModuleType("sagemaker_containers.beta")
    beta.framework = framework  # type: ignore[attr-defined]
    containers = types.ModuleType("sagemaker_containers")
    containers.beta = beta  # type: ignore[attr-defined]
    for name, module in [("flask", flask), ("sagemaker_containers", containers), ("sagemaker_containers.beta", beta),
                         ("sagemaker_containers.beta.framework", framework),
                         ("sagemaker_containers.beta.framework.worker", worker)]:
        monkeypatch.setitem(sys.modules, name, module)
    return context


def _error_body(response: FakeResponse) -> dict:
    assert response.mimetype == JSON
    return json.loads(response.response)


def test_under_the_flask_worker_a_bad_body_becomes_a_4xx_response_not_an_exception(flask_worker) -> None:
    data = handler.input_fn(b"{", JSON)
    prediction = handler.predict_fn(data, scored())
    assert prediction is data  # carried through predict_fn untouched
    response = handler.output_fn(prediction, JSON)
    assert isinstance(response, FakeResponse) and response.status == 400
    assert _error_body(response)["status"] == 400
    assert _error_body(response)["error"].startswith("request body is not valid JSON")


def test_under_the_flask_worker_a_bad_request_becomes_a_4xx_response(flask_worker) -> None:
    response = handler.output_fn(handler.predict_fn(handler.input_fn(b'{"instances": []}', JSON), scored()), JSON)
    assert response.status == 400
    assert _error_body(response) == {"error": '"instances" is empty; send at least one instance', "status": 400}
    response = handler.output_fn(handler.predict_fn(handler.input_fn(b"{}", "text/csv"), scored()), JSON)
    assert response.status == 415


def test_under_the_flask_worker_an_unacceptable_accept_becomes_a_406_response(flask_worker) -> None:
    response = handler.output_fn({"predictions": []}, "text/csv")
    assert response.status == 406
    assert _error_body(response) == {"error": "cannot answer in 'text/csv'; accept application/json", "status": 406}


def test_under_the_flask_worker_a_good_request_is_answered_normally(flask_worker) -> None:
    out = call(scored(), {"instances": [contact()], "hours": [9]})
    assert out["predictions"][0]["best_hour"] == 9


def test_outside_a_request_context_errors_are_raised(flask_worker) -> None:
    flask_worker.active = False
    with pytest.raises(RequestError):
        handler.input_fn(b"{", JSON)
    with pytest.raises(RequestError):
        handler.predict_fn({"instances": []}, scored())
    with pytest.raises(RequestError):
        handler.output_fn({}, "text/csv")


def test_flask_alone_is_not_the_worker(flask_worker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sagemaker_containers")
    assert handler._under_flask_worker() is False
    with pytest.raises(RequestError):
        handler.input_fn(b"{", JSON)


def test_without_flask_errors_are_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "flask", raising=False)
    monkeypatch.setitem(sys.modules, "sagemaker_containers", types.ModuleType("sagemaker_containers"))
    assert handler._under_flask_worker() is False


# ------------------------------------------------------------------------------------------------ generic answers
class Recorder:
    """Records what the handler feeds it; the features it was fitted with are b, a."""

    feature_names_in_ = np.array(["b", "a"], dtype=object)
    n_features_in_ = 2

    def predict(self, x: Any) -> list:
        self.fed = x
        return [0] * len(x)


def test_generic_objects_become_a_dataframe_with_the_fitted_column_order_when_pandas_is_there(monkeypatch) -> None:
    """The image ships pandas: instances by name become a DataFrame whose columns are the fitted names, in order."""
    pandas = types.ModuleType("pandas")
    pandas.DataFrame = lambda rows, columns: ("DataFrame", rows, columns)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pandas", pandas)
    r = Recorder()
    call(handler.LoadedModel(r), {"instances": [{"a": 1, "b": "x"}, {"b": 2.5, "a": "y"}]})
    assert r.fed == ("DataFrame", [["x", 1], [2.5, "y"]], ["b", "a"])


def test_generic_objects_without_pandas_keep_each_values_type(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    r = Recorder()
    call(handler.LoadedModel(r), {"instances": [{"a": 1, "b": "x"}]})
    assert r.fed.dtype == object and r.fed.tolist() == [["x", 1]]
    assert type(r.fed[0][1]) is int


def test_a_classifier_without_probabilities_answers_labels_only() -> None:
    class Labeller:
        classes_ = np.array(["no", "yes"])
        n_features_in_ = 1

        def predict(self, x: Any) -> np.ndarray:
            return np.array(["yes" if v[0] > 0 else "no" for v in np.asarray(x)])

    m = handler.LoadedModel(Labeller())
    assert (m.has_proba, m.classes) == (False, ["no", "yes"])
    assert call(m, {"instances": [[1], [-1]]}) == {"predictions": [{"label": "yes"}, {"label": "no"}]}


def test_generic_probabilities_are_rounded_to_six_places_and_labels_are_plain() -> None:
    class Thirds:
        classes_ = np.array([0, 1])
        n_features_in_ = 1

        def predict(self, x: Any) -> np.ndarray:
            return np.zeros(len(x), dtype=np.int64)

        def predict_proba(self, x: Any) -> np.ndarray:
            return np.tile([2 / 3, 1 / 3], (len(x), 1))

    out = call(handler.LoadedModel(Thirds()), {"instances": [[1]]})
    assert out == {"predictions": [{"label": 0, "probabilities": {"0": 0.666667, "1": 0.333333}}]}


def test_a_sweep_needs_the_estimators_classes_too() -> None:
    class NoClasses(Scorer):
        classes_ = None

    with pytest.raises(handler.SpecError, match="^a sweep needs a classifier with predict_proba$"):
        handler.LoadedModel(NoClasses(), spec())


def test_a_spec_without_request_level_fields_takes_every_field_per_instance() -> None:
    s = {k: v for k, v in spec().items() if k != "request_level"}
    model = scored(s)
    out = call(model, {"instances": [contact(day=6)], "hours": [9]})
    assert model.estimator.seen[-1] == [["a", 0, 0.5, 6, 9]]
    assert out["predictions"] == [{"best_hour": 9, "best_probability": 0.09, "probabilities": {"9": 0.09}}]
    e = refusal(model, {"instances": [contact()], "day": 1})
    assert e.reason == "unknown request field(s) day; allowed: instances, hours"
