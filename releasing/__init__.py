"""The stages of `python release.py STACK`, one module per concern; release.py only parses arguments and calls
`flow.release` (or `local.release_local` for `--local`).

    failures.py   exit codes and ReleaseFailure (what failed, what to do)
    stages.py     a header and the elapsed time for each stage
    preflight.py  Pulumi CLI, AWS credentials and region, before anything is touched
    pulumi_ops.py the Automation API: select (logged in? locked?), preview, up, refresh, destroy
    plan.py       the preview's summary of changes; refuses a replaced or deleted endpoint
    live.py       what SageMaker serves: describe, wait (boto3 waiters), verify against the stack's outputs
    smoke.py      inference.tools.check.run_checks against each endpoint
    rollback.py   each endpoint back to the config it served before the release, verified live
    capacity.py   autoscaled provisioned concurrency, which every update resets, set back once verified
    retention.py  after a verified release: prune what lies beyond the last N releases (never the live one)
    summary.py    the closing table
    local.py      --local: serve each artifact with the local endpoint and smoke-test it, no Pulumi, no AWS
    flow.py       the order of the stages
"""
