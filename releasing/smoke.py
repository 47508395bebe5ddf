"""The smoke test: `inference.tools.check.run_checks` against each endpoint, so a release and
`python -m inference check` judge an endpoint by the same checks (embeddings: dimension, unit norm, a paraphrase
closer than an unrelated sentence, a full batch, the refusals; scikit-learn: the manifest's example request gives
a prediction; cold and warm latency). Requests go through inference.client's transport, whose retry policy
waits out throttling and ModelNotReadyException (a cold start), which botocore's modes do not retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.tools.check import CheckReport, Target, run_checks


@dataclass
class SmokeResult:
    endpoint: str
    report: CheckReport

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def cold_ms(self) -> float | None:
        return self.report.cold_ms

    @property
    def warm_ms(self) -> float | None:
        return self.report.warm_ms

    def failures(self) -> str:
        return "; ".join(f"{r.name}: {r.detail}" for r in self.report.failed)


def smoke_test(target: Target, *, manifest: Mapping[str, Any] | None = None, artifact: Path | None = None,
               warm: int = 5, sagemaker_client: Any = None, session: Any = None,
               out: Callable[[str], None] = print) -> SmokeResult:
    """run_checks on `target`, with the kind, max batch, dimensions and example from the artifact (a model.tar.gz)
    or its manifest (the stack output's JSON)."""
    report = run_checks(target, artifact=artifact, manifest=manifest if artifact is None else None,
                        warm_requests=warm, sagemaker_client=sagemaker_client, session=session)
    for line in report.render().splitlines():
        out(f"  {line}")
    return SmokeResult(target.endpoint, report)
