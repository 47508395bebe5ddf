"""The call-time example: deterministic synthetic data with a plausible ground truth, a pipeline that recovers
the best hour, a serving spec that matches the features, and training inside the image-matching venvs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from container_env import call_time_estimator

from inference.build.sklearn import pickled_versions, spec_path_for
from inference.examples.call_time import data, features, train
from inference.handlers.sklearn import LoadedModel, validate_spec

WEEKDAY, SATURDAY = 2, 5


def contact(**kw):
    return {"segment": "enterprise", "age_band": "35-44", "channel": "mobile", "timezone_offset": 0,
            "past_answer_rate": 0.4, **kw}


def best_true_hour(person: dict, day: int) -> int:
    return max(features.CALL_HOURS, key=lambda h: data.true_probability(person, day, h))


# ------------------------------------------------------------------------------------------- data
def test_generation_is_deterministic_per_seed():
    a, b, c = data.generate(500, seed=7), data.generate(500, seed=7), data.generate(500, seed=8)
    assert a == b
    assert a != c


def test_rows_follow_the_feature_order_and_stay_inside_the_serving_spec():
    rows, labels = data.generate(2000, seed=0)
    assert set(labels) == {0, 1}
    for row in rows:
        assert len(row) == len(features.FEATURE_NAMES)
        for value, f in zip(row, features.FEATURES, strict=True):
            if f["type"] == "category":
                assert value in f["allowed"]
            else:
                assert f["min"] <= value <= f["max"]


def test_labels_follow_the_ground_truth_probability():
    rows, labels = data.generate(20000, seed=0)
    names = features.FEATURE_NAMES
    truth = [data.true_probability(dict(zip(names, r, strict=True)), r[names.index("day_of_week")],
                                   r[names.index("hour")]) for r in rows]
    assert abs(np.mean(labels) - np.mean(truth)) < 0.015  # 20k Bernoulli draws: sd of the mean ~0.0035


@pytest.mark.parametrize("segment", ["small_business", "enterprise", "healthcare"])
def test_business_contacts_are_best_reached_in_office_hours_on_weekdays(segment):
    for age in features.AGE_BANDS:
        assert 9 <= best_true_hour(contact(segment=segment, age_band=age), WEEKDAY) <= 16
    person = contact(segment=segment)
    assert all(data.true_probability(person, SATURDAY, h) < data.true_probability(person, WEEKDAY, h)
               for h in features.CALL_HOURS)


def test_consumers_are_best_reached_in_the_evening_on_weekdays():
    for age in ("18-24", "25-34", "35-44", "45-54"):
        assert best_true_hour(contact(segment="consumer", age_band=age), WEEKDAY) >= 17


def test_a_higher_past_answer_rate_means_a_higher_answer_probability():
    for hour in features.CALL_HOURS:
        rates = [data.true_probability(contact(past_answer_rate=r), WEEKDAY, hour) for r in (0.1, 0.3, 0.6, 0.9)]
        assert rates == sorted(rates) and len(set(rates)) == 4


# ------------------------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def pipeline():
    return train.fit(n_rows=20000, seed=0)


def test_the_trained_pipeline_recovers_the_best_hour(pipeline):
    """Regret = true probability at the true best hour minus at the model's best hour, over new contacts."""
    names, regrets, errors = features.FEATURE_NAMES, [], []
    for person in data.contacts(150, seed=99):
        for day in (WEEKDAY, SATURDAY):
            rows = np.array([[{**person, "day_of_week": day, "hour": h}[n] for n in names]
                             for h in features.CALL_HOURS], dtype=object)
            predicted = pipeline.predict_proba(rows)[:, 1]
            truth = np.array([data.true_probability(person, day, h) for h in features.CALL_HOURS])
            regrets.append(truth.max() - truth[int(np.argmax(predicted))])
            errors.extend(np.abs(predicted - truth))
    assert np.mean(regrets) < 0.04
    assert np.mean(errors) < 0.05


def test_the_pipeline_holds_only_scikit_learn_objects(pipeline, tmp_path: Path):
    """The image unpickles it without this repository: nothing from `inference` may be referenced."""
    import joblib

    path = tmp_path / "p.joblib"
    joblib.dump(pipeline, path)
    assert b"inference" not in path.read_bytes()


def test_serving_spec_is_valid_and_matches_the_feature_order(pipeline):
    spec = validate_spec(features.serving_spec())
    assert [f["name"] for f in spec["features"]] == features.FEATURE_NAMES
    assert spec["sweep"]["default"] == features.CALL_HOURS
    LoadedModel(pipeline, spec)  # the positive class exists and the estimator has predict_proba


@pytest.mark.slow
# ------------------------------------------------------------------------------------- training in the image venvs
@pytest.mark.parametrize("container, version, numpy2", [("sklearn-1.4-2", "1.4.2", True),
                                                        ("sklearn-1.2-1", "1.2.1", False)])
def test_train_estimator_pickles_with_the_images_versions_and_writes_the_spec(container, version, numpy2):
    estimator = call_time_estimator(container)
    assert pickled_versions(estimator) == {"sklearn": [version], "numpy2": numpy2}
    assert json.loads(spec_path_for(estimator).read_text()) == features.serving_spec()


def test_the_command_line_refuses_too_few_rows(capsys):
    with pytest.raises(SystemExit) as info:
        train.main(["--out", "x.joblib", "--rows", "5"])
    assert info.value.code == 2
    assert "--rows must be at least 100" in capsys.readouterr().err


def test_in_env_refuses_an_interpreter_with_another_scikit_learn(tmp_path: Path):
    import sklearn

    if sklearn.__version__ == "1.4.2":
        pytest.skip("this interpreter runs the image's scikit-learn")
    with pytest.raises(SystemExit, match="needs scikit-learn 1.4.2"):
        train.main(["--in-env", "--container", "sklearn-1.4-2", "--out", str(tmp_path / "e.joblib"),
                    "--rows", "100"])
    assert not (tmp_path / "e.joblib").exists()
