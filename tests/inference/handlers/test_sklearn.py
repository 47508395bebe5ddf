"""The scikit-learn handler's request contract, in-process.

Unpickling is model_fn's job and needs the image's scikit-learn (covered by tests/inference/build/test_sklearn.py and
test_container_sklearn.py in matching venvs); input_fn/predict_fn/output_fn take a loaded estimator, so here they
run against the call-time pipeline fitted in this environment and against small generic estimators.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.examples.call_time.features import CALL_HOURS, FEATURE_NAMES, FEATURES, serving_spec
from inference.examples.call_time.train import fit
from inference.handlers import sklearn as handler
from inference.handlers.sls_errors import RequestError

SPEC = serving_spec()
CONTACT = {"segment": "enterprise", "age_band": "35-44", "channel": "mobile", "timezone_offset": -5,
           "past_answer_rate": 0.4}


def fitted_call_time() -> object:
    """The call-time pipeline fitted here, kept on disk (.cache/test-fits/) keyed by the example's sources and
    the scikit-learn and numpy versions: fitting takes seconds and the mutation run starts many sessions."""
    import hashlib

    import joblib
    import sklearn

    import inference.examples.call_time as example

    h = hashlib.sha256(f"{sklearn.__version__} {np.__version__} 6000 3".encode())
    for source in sorted(Path(example.__file__).parent.glob("*.py")):
        h.update(source.name.encode() + source.read_bytes())
    cached = Path(__file__).resolve().parents[3] / ".cache" / "test-fits" / f"call-time-{h.hexdigest()[:16]}.joblib"
    if cached.exists():
        return joblib.load(cached)
    estimator = fit(n_rows=6000, seed=3)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(estimator, partial)
    partial.replace(cached)  # atomic: a concurrent session reads a whole file or none
    return estimator


@pytest.fixture(scope="module")
def call_time() -> handler.LoadedModel:
    return handler.LoadedModel(fitted_call_time(), SPEC)


def call(model: handler.LoadedModel, request, content_type="application/json", accept="application/json"):
    body = request if isinstance(request, (bytes, str)) else json.dumps(request)
    data = handler.input_fn(body, content_type)
    out, media = handler.output_fn(handler.predict_fn(data, model), accept)
    assert media == "application/json"
    return json.loads(out)


def rejected(model, request, status: int, *needles: str, **kw) -> RequestError:
    with pytest.raises(RequestError) as info:
        call(model, request, **kw)
    assert info.value.status_code == status, info.value.reason
    for needle in needles:
        assert needle in info.value.reason, info.value.reason
    return info.value


# ------------------------------------------------------------------------------------------- call-time contract
def test_default_sweep_scores_every_call_hour_and_picks_the_best(call_time):
    other = {**CONTACT, "segment": "consumer", "age_band": "18-24"}
    result = call(call_time, {"instances": [CONTACT, other]})
    assert len(result["predictions"]) == 2
    for pred in result["predictions"]:
        probs = pred["probabilities"]
        assert list(probs) == [str(h) for h in CALL_HOURS]
        assert all(0.0 <= p <= 1.0 for p in probs.values())
        assert pred["best_probability"] == max(probs.values())
        assert probs[str(pred["best_hour"])] == pred["best_probability"]
        assert pred["day_of_week"] == 2  # the spec's default day, echoed


def test_probabilities_are_the_pipelines_for_the_swept_rows(call_time):
    hours = [9, 13, 18]
    result = call(call_time, {"instances": [CONTACT], "hours": hours, "day_of_week": 5})
    rows = np.array([[{**CONTACT, "day_of_week": 5, "hour": h}[n] for n in FEATURE_NAMES] for h in hours], dtype=object)
    expected = call_time.estimator.predict_proba(rows)[:, list(call_time.estimator.classes_).index(1)]
    got = [result["predictions"][0]["probabilities"][str(h)] for h in hours]
    assert got == pytest.approx(expected.tolist(), abs=1e-6)
    assert result["predictions"][0]["day_of_week"] == 5


def test_day_of_week_per_instance_overrides_the_request_level_value(call_time):
    result = call(call_time, {"instances": [{**CONTACT, "day_of_week": 6}, CONTACT], "day_of_week": 0, "hours": [10]})
    assert [p["day_of_week"] for p in result["predictions"]] == [6, 0]


def test_integral_floats_are_accepted_for_integer_fields(call_time):
    result = call(call_time, {"instances": [{**CONTACT, "timezone_offset": -5.0}], "hours": [10.0, 11]})
    assert set(result["predictions"][0]["probabilities"]) == {"10", "11"}


def test_content_type_parameters_and_any_accept_are_fine(call_time):
    result = call(call_time, {"instances": [CONTACT]}, content_type="application/json; charset=utf-8", accept="*/*")
    assert len(result["predictions"]) == 1


# ------------------------------------------------------------------------------------------- every error case
@pytest.mark.parametrize("request_, status, needles", [
    (b"{not json", 400, ["not valid JSON"]),
    (b'{"instances": [NaN]}', 400, ["NaN"]),
    (b"\xff\xfe", 400, ["UTF-8"]),
    (b'{"instances": ' + b"[" * 200000 + b"]" * 200000 + b"}", 400, ["nests JSON too deeply"]),
    ([CONTACT], 400, ["JSON object", "list"]),
    ({"inputs": [CONTACT]}, 400, ["unknown request field", "inputs", "allowed: instances, day_of_week, hours"]),
    ({}, 400, ['no "instances"']),
    ({"instances": CONTACT}, 400, ['"instances" must be a list']),
    ({"instances": []}, 400, ["empty"]),
    ({"instances": [[1, 2]]}, 400, ["instances[0] must be a JSON object"]),
    ({"instances": [{**CONTACT, "colour": "red"}]}, 400, ["instances[0]", "colour", "allowed: segment"]),
    ({"instances": [CONTACT, {k: v for k, v in CONTACT.items() if k != "channel"}]}, 400,
     ["instances[1] is missing 'channel'", '"mobile", "landline", "voip"']),
    ({"instances": [{**CONTACT, "segment": "government"}]}, 400,
     ['instances[0].segment = "government" is not allowed', '"consumer", "small_business"']),
    ({"instances": [{**CONTACT, "channel": None}]}, 400, ["instances[0].channel = null is not allowed"]),
    ({"instances": [{**CONTACT, "timezone_offset": "UTC"}]}, 400, ["timezone_offset must be an integer"]),
    ({"instances": [{**CONTACT, "timezone_offset": True}]}, 400, ["timezone_offset must be an integer"]),
    ({"instances": [{**CONTACT, "timezone_offset": 1.5}]}, 400, ["must be an integer, got 1.5"]),
    ({"instances": [{**CONTACT, "timezone_offset": 20}]}, 400, ["out of range", "-12 to 14"]),
    ({"instances": [{**CONTACT, "past_answer_rate": 1.5}]}, 400,
     ["past_answer_rate = 1.5 is out of range", "0.0 to 1.0"]),
    ({"instances": [{**CONTACT, "past_answer_rate": "high"}]}, 400, ["past_answer_rate must be a number"]),
    ({"instances": [{**CONTACT, "past_answer_rate": 10**400}]}, 400, ["past_answer_rate must be a finite number"]),
    ({"instances": [CONTACT], "day_of_week": 7}, 400, ["request.day_of_week = 7 is out of range", "0 to 6"]),
    ({"instances": [CONTACT], "hours": []}, 400, ['"hours" must be a non-empty list', "from 8 to 20"]),
    ({"instances": [CONTACT], "hours": 10}, 400, ['"hours" must be a non-empty list']),
    ({"instances": [CONTACT], "hours": [10, 3]}, 400, ["hours[1].hour = 3 is out of range", "8 to 20"]),
    ({"instances": [CONTACT], "hours": [10, 10]}, 400, ["twice"]),
    ({"instances": [CONTACT] * (SPEC["max_instances"] + 1)}, 413, [f"maximum is {SPEC['max_instances']}"]),
])
def test_bad_requests_get_a_4xx_naming_the_problem(call_time, request_, status, needles):
    rejected(call_time, request_, status, *needles)


def test_wrong_content_type_is_415(call_time):
    rejected(call_time, {"instances": [CONTACT]}, 415, "text/csv", "application/json", content_type="text/csv")


def test_unacceptable_accept_is_406(call_time):
    rejected(call_time, {"instances": [CONTACT]}, 406, "text/csv", accept="text/csv")


def test_body_over_the_serverless_payload_limit_is_413(call_time):
    body = b'{"instances": [], "pad": "' + b"x" * handler.MAX_BODY_BYTES + b'"}'
    rejected(call_time, body, 413, "4 MB")


def test_handler_keeps_working_after_bad_requests(call_time):
    for bad in (b"[", {"instances": []}, {"instances": [{"segment": 1}]}):
        with pytest.raises(RequestError):
            call(call_time, bad)
    assert len(call(call_time, {"instances": [CONTACT]})["predictions"]) == 1


# ------------------------------------------------------------------------------------------- properties
json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=8))  # what standard JSON can carry
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)


def _field_values(feature: dict):
    if feature["type"] == "category":
        return st.sampled_from(feature["allowed"])
    if feature["type"] == "integer":
        return st.integers(feature["min"], feature["max"])
    return st.floats(feature["min"], feature["max"], allow_nan=False)


contact_strategy = st.fixed_dictionaries({f["name"]: _field_values(f) for f in FEATURES
                                          if f["name"] not in ("hour", "day_of_week")})
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SLOW
@given(instances=st.lists(contact_strategy, min_size=1, max_size=5),
       hours=st.lists(st.sampled_from(CALL_HOURS), min_size=1, max_size=13, unique=True))
def test_any_valid_request_gets_one_prediction_per_instance_over_the_asked_hours(call_time, instances, hours):
    result = call(call_time, {"instances": instances, "hours": hours})
    assert len(result["predictions"]) == len(instances)
    for pred in result["predictions"]:
        assert list(pred["probabilities"]) == [str(h) for h in hours]
        assert pred["best_hour"] in hours
        assert pred["best_probability"] == max(pred["probabilities"].values())


@SLOW
@given(request_=json_values)
def test_arbitrary_json_is_answered_or_refused_with_a_4xx_never_crashes(call_time, request_):
    try:
        result = call(call_time, request_)
    except RequestError as e:
        assert 400 <= e.status_code < 500 and e.reason
    else:
        assert isinstance(result["predictions"], list) and result["predictions"]


@SLOW
@given(field=st.sampled_from([f["name"] for f in FEATURES if f["name"] not in ("hour", "day_of_week")]),
       value=json_values)
def test_a_bad_value_in_any_field_is_refused_naming_that_field(call_time, field, value):
    feature = next(f for f in FEATURES if f["name"] == field)
    try:
        handler._coerce(feature, value, "x")
    except RequestError:
        valid = False
    else:
        valid = True
    request_ = {"instances": [{**CONTACT, field: value}], "hours": [10]}
    if valid:
        assert len(call(call_time, request_)["predictions"]) == 1
    else:
        rejected(call_time, request_, 400, f"instances[0].{field}")


# ------------------------------------------------------------------------------------------- generic contract
@pytest.fixture(scope="module")
def generic_classifier() -> handler.LoadedModel:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    x = rng.normal(size=(200, 3))
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    return handler.LoadedModel(LogisticRegression().fit(x, y))


def test_generic_lists_get_labels_and_class_probabilities(generic_classifier):
    rows = [[2.0, 2.0, 0.0], [-2.0, -2.0, 0.0]]
    result = call(generic_classifier, {"instances": rows})
    expected = generic_classifier.estimator.predict(np.array(rows))
    assert [p["label"] for p in result["predictions"]] == expected.tolist()
    for pred in result["predictions"]:
        assert set(pred["probabilities"]) == {"no", "yes"}
        assert math.isclose(sum(pred["probabilities"].values()), 1.0, abs_tol=1e-5)


def test_generic_regressor_gets_values_only():
    from sklearn.linear_model import LinearRegression

    model = handler.LoadedModel(LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]))
    result = call(model, {"instances": [[3]]})
    assert result["predictions"][0]["label"] == pytest.approx(7.0)
    assert "probabilities" not in result["predictions"][0]


@pytest.mark.parametrize("request_, needles", [
    ({"instances": [[1.0, 2.0]]}, ["instances[0] has 2 values", "expects 3 features"]),
    ({"instances": [[1.0, 2.0, [3]]]}, ["instances[0][2] must be a number or a string"]),
    ({"instances": [[1.0, 2.0, True]]}, ["instances[0][2] must be a number or a string"]),
    ({"instances": [[1.0, 2.0, 10**400]]}, ["instances[0][2] must be a finite number"]),
    ({"instances": [[1.0, 2.0, "x"]]}, ["could not use these instances"]),
    ({"instances": [{"a": 1}]}, ["trained without feature names", "list of 3 values"]),
    ({"instances": [[1.0, 2.0, 3.0], {"a": 1}]}, ["all be lists", "all be objects"]),
    ({"instances": [1.0]}, ["all be lists"]),
    ({"instances": [[1, 2, 3]], "hours": [1]}, ["unknown request field(s) hours", "allowed: instances"]),
])
def test_generic_bad_requests_are_400(generic_classifier, request_, needles):
    rejected(generic_classifier, request_, 400, *needles)


def test_generic_objects_use_the_feature_names_the_estimator_was_fitted_with():
    class Named:  # what a DataFrame-fitted estimator exposes; pandas is not needed to check the handler's mapping
        feature_names_in_ = np.array(["b", "a"], dtype=object)
        n_features_in_ = 2

        def predict(self, x):
            return [row[0] * 10 + row[1] for row in np.asarray(x, dtype=float)]

    model = handler.LoadedModel(Named())
    assert call(model, {"instances": [{"a": 1, "b": 2}]})["predictions"] == [{"label": 21.0}]
    rejected(model, {"instances": [{"a": 1}]}, 400, "missing ['b']", "the features are ['b', 'a']")


# ------------------------------------------------------------------------------------------- spec and model_fn
@pytest.mark.parametrize("mutate, needle", [
    (lambda s: s.update(format=2), "'format' must be 1"),
    (lambda s: s.update(features=[]), "non-empty list"),
    (lambda s: s["features"].append({"name": "hour", "type": "integer"}), "unique"),
    (lambda s: s["features"][0].update(type="text"), "'type' must be one of"),
    (lambda s: s["features"][0].update(allowed=[]), "non-empty 'allowed'"),
    (lambda s: s["features"][3].update(min="low"), "'min' must be a number"),
    (lambda s: s.update(request_level=["weather"]), "request_level feature 'weather'"),
    (lambda s: s["sweep"].update(feature="minute"), "sweep.feature"),
    (lambda s: s["sweep"].update(default=[]), "sweep.default"),
    (lambda s: s.update(positive_class=None), "positive_class"),
    (lambda s: s.update(max_instances=0), "max_instances"),
])
def test_malformed_specs_are_refused(mutate, needle):
    spec = json.loads(json.dumps(SPEC))
    mutate(spec)
    with pytest.raises(handler.SpecError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        handler.validate_spec(spec)


def test_sweep_needs_the_positive_class_among_the_estimators_classes(call_time):
    with pytest.raises(handler.SpecError, match="not among the estimator's classes"):
        handler.LoadedModel(call_time.estimator, {**SPEC, "positive_class": "answered"})


def test_model_fn_refuses_an_artifact_built_for_another_scikit_learn(tmp_path: Path):
    import sklearn

    from inference.build.artifact import write_manifest

    (tmp_path / handler.MODEL_FILE).write_bytes(b"never unpickled")
    other = "0.0.1" if sklearn.__version__ != "0.0.1" else "0.0.2"
    write_manifest(tmp_path, {"model": {"sklearn_version": other}, "container": {"key": "sklearn-x"}})
    with pytest.raises(RuntimeError, match=f"built for scikit-learn {other}.*runs scikit-learn {sklearn.__version__}"):
        handler.model_fn(str(tmp_path))


def test_model_fn_refuses_a_tampered_artifact(tmp_path: Path):
    from inference.build.artifact import IntegrityError, write_manifest

    (tmp_path / handler.MODEL_FILE).write_bytes(b"original")
    write_manifest(tmp_path, {"model": {}})
    (tmp_path / handler.MODEL_FILE).write_bytes(b"swapped")
    with pytest.raises(IntegrityError, match="model.joblib was modified"):
        handler.model_fn(str(tmp_path))
