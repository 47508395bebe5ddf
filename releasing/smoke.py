"""The smoke test: `inference.tools.check.run_checks` against each endpoint, so a release and
`python -m inference check` judge an endpoint by the same checks (embeddings: dimension, unit norm, a paraphrase
closer than an unrelated sentence, a full batch, the refusals; scikit-learn: the manifest's example request gives
a prediction; cold and warm latency). Requests go through inference.client's transport, whose retry policy
waits out throttling and ModelNotReadyException (a cold start), which botocore's modes do not retry.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.manifest import MANIFEST_NAME
from inference.tools.check import CheckReport, Target, run_checks

COLD = re.compile(r"first request ([\d.]+) ms")
WARM = re.compile(r"warm median ([\d.]+) ms")


@dataclass
class SmokeResult:
    endpoint: str
    report: CheckReport

    @property
    def ok(self) -> bool:
        return self.report.ok

    def _latency(self, pattern: re.Pattern[str]) -> float | None:
        for r in self.report.results:
            if r.name == "cold vs warm" and (m := pattern.search(r.detail)):
                return float(m.group(1))
        return None

    @property
    def cold_ms(self) -> float | None:
        return self._latency(COLD)

    @property
    def warm_ms(self) -> float | None:
        return self._latency(WARM)

    def failures(self) -> str:
        return "; ".join(f"{r.name}: {r.detail}" for r in self.report.failed)


def smoke_test(target: Target, *, manifest: Mapping[str, Any] | None = None, artifact: Path | None = None,
               warm: int = 5, sagemaker_client: Any = None, session: Any = None,
               out: Callable[[str], None] = print) -> SmokeResult:
    """run_checks on `target`, with the kind, max batch, dimensions and example from the artifact (a model.tar.gz)
    or its manifest (the stack output's JSON)."""
    with tempfile.TemporaryDirectory(prefix="release-manifest-") as tmp:
        if artifact is None and manifest is not None:  # run_checks reads a manifest from an artifact directory
            (Path(tmp) / MANIFEST_NAME).write_text(json.dumps(manifest))
            artifact = Path(tmp)
        report = run_checks(target, artifact=artifact, warm_requests=warm, sagemaker_client=sagemaker_client,
                            session=session)
        shown = report.render().replace(tmp, "the stack output's artifact_manifest")
    for line in shown.splitlines():
        out(f"  {line}")
    return SmokeResult(target.endpoint, report)
