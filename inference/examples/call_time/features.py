"""Features of the call-time model and the serving spec the handler validates requests against.

Why a spec: the pipeline is fed a plain numpy object array (columns in this order), so the endpoint, not the
estimator, must know the field names, types and allowed values to turn a bad request into a 400 that names the
field. The same list drives data generation, the pipeline's column selection and the spec, so they cannot drift.
"""

from __future__ import annotations

from typing import Any

SEGMENTS = ["consumer", "small_business", "enterprise", "healthcare", "retail"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
CHANNELS = ["mobile", "landline", "voip"]
TIMEZONE_OFFSETS = [-8, -7, -6, -5, 0, 1, 2]  # hours from UTC seen in the synthetic data (spec allows -12..14)
CALL_HOURS = list(range(8, 21))  # local time; 8:00-20:59 is the usual permitted window for outbound calls
DAYS = list(range(7))  # 0 = Monday

# Column order of the model input. "hour" is the swept feature, "day_of_week" may be given once per request.
FEATURES: list[dict[str, Any]] = [
    {"name": "segment", "type": "category", "allowed": SEGMENTS},
    {"name": "age_band", "type": "category", "allowed": AGE_BANDS},
    {"name": "channel", "type": "category", "allowed": CHANNELS},
    {"name": "timezone_offset", "type": "integer", "min": -12, "max": 14},
    {"name": "past_answer_rate", "type": "number", "min": 0.0, "max": 1.0},
    {"name": "day_of_week", "type": "integer", "min": 0, "max": 6, "default": 2},
    {"name": "hour", "type": "integer", "min": CALL_HOURS[0], "max": CALL_HOURS[-1]},
]
FEATURE_NAMES = [f["name"] for f in FEATURES]
ONE_HOT = ["segment", "age_band", "channel", "day_of_week", "hour"]  # categorical for the model
NUMERIC = ["timezone_offset", "past_answer_rate"]
POSITIVE_CLASS = 1  # label 1 = the call was answered
MAX_INSTANCES = 500  # x 13 candidate hours = 6500 rows per request, well inside 60 s and 4 MB


def serving_spec() -> dict[str, Any]:
    """The JSON serving spec written next to the model (see inference/handlers/sklearn.py)."""
    return {
        "format": 1,
        "name": "call_time",
        "description": "probability that a call to the contact is answered, per local hour; best hour to call",
        "features": FEATURES,
        "request_level": ["day_of_week"],
        "sweep": {"feature": "hour", "request_key": "hours", "default": CALL_HOURS},
        "positive_class": POSITIVE_CLASS,
        "max_instances": MAX_INSTANCES,
    }
