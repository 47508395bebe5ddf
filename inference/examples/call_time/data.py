"""Deterministic synthetic call outcomes with a known, plausible ground truth.

Why synthetic: the example must train anywhere (CI, no data download) and tests need the true answer
probability to check that the trained model finds the right hour. The ground truth: the contact's past answer
rate dominates; business segments answer in office hours (peaks late morning and mid-afternoon, a lunch dip,
little after 17:00 or at weekends), consumers in the early evening and at weekend middays, retail staff before
and after shifts; older contacts prefer mornings, the youngest evenings; mobiles are answered more often.
numpy's legacy RandomState is used because its stream is stable across numpy versions, so the container venvs
(numpy 1.24 / 2.1) and the main venv generate the same rows for the same seed.
"""

from __future__ import annotations

import math
from typing import Any

from inference.examples.call_time.features import (
    AGE_BANDS,
    CALL_HOURS,
    CHANNELS,
    DAYS,
    FEATURE_NAMES,
    SEGMENTS,
    TIMEZONE_OFFSETS,
)

BUSINESS = {"small_business", "enterprise", "healthcare"}


def _bump(hour: float, center: float, width: float, height: float) -> float:
    return height * math.exp(-0.5 * ((hour - center) / width) ** 2)


def true_logit(contact: dict[str, Any], day_of_week: int, hour: int) -> float:
    """Log-odds that a call at local `hour` on `day_of_week` is answered (the generator's ground truth)."""
    rate = min(max(float(contact["past_answer_rate"]), 0.02), 0.98)
    z = 0.9 * math.log(rate / (1 - rate)) - 0.2
    segment, age, weekend = contact["segment"], contact["age_band"], day_of_week >= 5
    if segment in BUSINESS:
        z += _bump(hour, 10.5, 1.2, 1.0) + _bump(hour, 14.5, 1.0, 0.7) - _bump(hour, 12.5, 0.6, 0.6)
        z -= 1.2 if hour >= 17 else 0.0
        z -= 1.3 if weekend else 0.0
    elif segment == "consumer":
        z += _bump(hour, 18.5, 1.3, 1.2) - (0.6 if (9 <= hour <= 16 and not weekend) else 0.0)
        z += _bump(hour, 12.5, 1.5, 0.7) if weekend else 0.0
    else:  # retail: before and after shifts
        z += _bump(hour, 8.5, 0.8, 0.9) + _bump(hour, 16.5, 1.0, 0.6) - (0.3 if weekend else 0.0)
    if age == "65+":
        z += _bump(hour, 10.0, 1.5, 0.6) - (0.5 if hour >= 19 else 0.0)
    elif age == "18-24":
        z += (-0.6 if hour < 10 else 0.0) + _bump(hour, 19.5, 1.5, 0.4)
    channel = contact["channel"]
    z += {"mobile": 0.3, "landline": -0.2, "voip": -0.1}[channel]
    if channel == "landline" and age in ("55-64", "65+"):
        z += 0.4
    z += 0.02 * contact["timezone_offset"]
    return z


def true_probability(contact: dict[str, Any], day_of_week: int, hour: int) -> float:
    return 1.0 / (1.0 + math.exp(-true_logit(contact, day_of_week, hour)))


def contacts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n random contacts (features without hour/day)."""
    import numpy as np

    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        out.append({
            "segment": SEGMENTS[rng.randint(len(SEGMENTS))],
            "age_band": AGE_BANDS[rng.randint(len(AGE_BANDS))],
            "channel": CHANNELS[rng.randint(len(CHANNELS))],
            "timezone_offset": TIMEZONE_OFFSETS[rng.randint(len(TIMEZONE_OFFSETS))],
            "past_answer_rate": round(float(rng.beta(2.0, 4.0)), 3),
        })
    return out


def generate(n_rows: int = 40000, seed: int = 0) -> tuple[list[list[Any]], list[int]]:
    """(rows in FEATURE_NAMES order, answered labels): each row a random contact called at a random hour/day."""
    import numpy as np

    people = contacts(n_rows, seed)
    rng = np.random.RandomState(seed + 1)
    days = rng.randint(len(DAYS), size=n_rows)
    hours = rng.randint(CALL_HOURS[0], CALL_HOURS[-1] + 1, size=n_rows)
    draws = rng.random_sample(n_rows)
    rows, labels = [], []
    for person, day, hour, u in zip(people, days, hours, draws):  # noqa: B905 - also runs on Python 3.9
        record = {**person, "day_of_week": int(day), "hour": int(hour)}
        rows.append([record[name] for name in FEATURE_NAMES])
        labels.append(int(u < true_probability(person, int(day), int(hour))))
    return rows, labels
