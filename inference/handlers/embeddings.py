"""Sentence-embedding handler: becomes the artifact's `code/inference.py` (sagemaker-inference contract).

Contract: request `{"inputs": "text"}` or `{"inputs": ["t1", ...]}` as application/json; response
`{"embeddings": [[...], ...], "model": name, "dimensions": d, "truncated": [bool per input]}` -- one
sentence vector per input, in order, pooled as the model's sentence-transformers config says (mean / cls /
max / mean_sqrt_len) and L2-normalised. `truncated[i]` says whether input i was longer than the model's
max_seq_length and was cut.

Choices:
- Everything the handler needs comes from the verified manifest.json (runtime, pooling, max_seq_length,
  max_batch, payload limit, file names), read once in model_fn; the request path reads no files.
- onnx / onnx-int8 runtimes import only numpy, `tokenizers` and `onnxruntime` (vendored into code/ by the
  build for the image's Python) -- never torch or transformers, so a cold start imports ~30 MB instead of
  ~1 GB. The torch runtime uses the image's torch + transformers AutoModel with the same tokenisation and
  pooling code (the HF image does not ship sentence-transformers).
- Tokenisation with `tokenizers` (tokenizer.json), truncated to max_seq_length (sentence_bert_config.json,
  special tokens included, as sentence-transformers does). torch / onnx: texts run shortest-first in chunks,
  each padded to its own longest text; the chunk boundaries minimise padded tokens + CHUNK_OVERHEAD per
  encoder call (plan_chunks), with at most TOKEN_BUDGET padded tokens per call: little padding, few calls,
  and peak memory bounded whatever the batch.
- onnx-int8 runs every text in an encoder call of its own: its kernels quantize activations with one scale
  per call, computed over the whole padded input, so a text sharing a call would get a vector that depends on
  its batch-mates and on padding (cosine 0.984 for `lol` after seven other sentences). A batch runs its texts
  on one-thread sessions, one per vCPU, in parallel: as fast as padded chunks on two threads
  (docs/int8-recipe.md, "Batch-mates").
- onnxruntime session tuned for 1-2 vCPU serverless hosts: intra-op threads = the CPUs this process may
  use (affinity, capped by a cgroup CPU quota and by OMP_NUM_THREADS when the endpoint's environment sets
  it: the thread knob in AWS's table of tunable variables for SageMaker containers,
  docs.aws.amazon.com/sagemaker/latest/dg/async-inference-troubleshooting.html), one inter-op thread,
  sequential execution, all graph optimisations at load. The torch runtime gets the same thread count.
- Empty or whitespace-only strings are refused (400): their "embedding" is just the special tokens and is
  almost always a client bug.
- A batch larger than max_batch and a body larger than max_payload_bytes get 413; the size check runs before
  JSON parsing. The serverless limit is 4 MB per request (AWS serverless-endpoints docs).
- Errors are sls_errors.RequestError (status_code + reason); the HF toolkit turns any handler exception into
  a 400 with str(e), the local server and the sklearn image use status_code.

This file runs in the image (Python 3.11/3.12) and imports nothing from the `inference` package.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
if __package__:  # imported as inference.handlers.embeddings (build-time quality gate, tests)
    from .sls_errors import RequestError, bad_request, not_acceptable, too_large, unsupported_media_type
    from .sls_integrity import verify_manifest
else:  # code/inference.py in an artifact: vendored packages next to this file win over the image's copies
    if not sys.path or sys.path[0] != _HERE:
        sys.path.insert(0, _HERE)
    from sls_errors import RequestError, bad_request, not_acceptable, too_large, unsupported_media_type
    from sls_integrity import verify_manifest
try:  # onnx runtimes vendor it into code/ (inference/build/vendor.py); the torch runtime's image ships none
    import orjson
except ImportError:
    orjson = None

JSON = "application/json"
DEFAULT_MAX_BATCH = 32
# AWS: serverless request payload limit is 4 MB; refuse at the limit with a reason instead of failing later.
DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
RUNTIMES = ("torch", "onnx", "onnx-int8")
# Padded tokens per encoder call: bounds peak memory whatever the batch (figures: docs/handler-performance.md).
TOKEN_BUDGET = 2048
# One encoder call costs about as much as this many extra padded tokens (measured: docs/handler-performance.md);
# splitting a batch pays only when it saves more padding.
CHUNK_OVERHEAD = 32

# Limits for input_fn, which the contract does not pass the model to; set by model_fn from the manifest.
_limits = {"max_batch": DEFAULT_MAX_BATCH, "max_payload_bytes": DEFAULT_MAX_PAYLOAD_BYTES}


def _cpu_count() -> int:
    """vCPUs this process may use: its CPU affinity, capped by a cgroup CPU quota.

    A container limited by a quota still sees (and may be affine to) every host CPU; onnxruntime threads beyond
    the quota spin against each other and get throttled, which makes a call slower than one thread would
    (docs/handler-performance.md).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        n = min(n, int(quota))  # floor: a 1.5-CPU quota runs one thread rather than two that get throttled
    return max(1, n)


def _thread_count() -> int:
    """Encoder threads: _cpu_count(), lowered by OMP_NUM_THREADS if set (see thread_cap).

    onnxruntime's default build ignores OpenMP variables, and torch.set_num_threads would override them; a
    user who sets OMP_NUM_THREADS=1 on the endpoint means one thread, so it caps both.
    """
    cpus, cap = _cpu_count(), thread_cap(os.environ.get("OMP_NUM_THREADS", ""))
    return cpus if cap is None else min(cpus, cap)


def thread_cap(raw: str) -> int | None:
    """The thread count an OMP_NUM_THREADS value asks for (first entry of OpenMP's list form); None if empty.

    A value that is not a positive integer is a configuration error (raised, not silently ignored); the stack
    settings call this too, so a bad value fails `pulumi up` before anything is deployed.
    """
    if not raw.strip():
        return None
    first = raw.split(",")[0].strip()
    if not (first.isascii() and first.isdigit()) or int(first) < 1:  # isdigit alone admits '²', '٣'
        raise ValueError(f"OMP_NUM_THREADS={raw!r} is not a positive integer (e.g. 1 or 2); unset it to use every "
                         "vCPU")
    return int(first)


def cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs granted by the cgroup (v2 cpu.max, else v1 cpu.cfs_quota_us / cpu.cfs_period_us); None if unlimited."""
    try:
        with open(os.path.join(root, "cpu.max")) as f:
            quota, period = (f.read().split() + ["100000"])[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us")) as f:
            quota_us = int(f.read().strip())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us")) as f:
            period_us = int(f.read().strip())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError, ZeroDivisionError):
        return None


class EmbeddingModel:
    """Tokenizer + encoder + pooling, loaded once by model_fn and shared by every request (thread-safe)."""

    def __init__(self, model_dir: str, manifest: dict) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self._np = np
        model = manifest["model"]
        self.runtime = manifest["runtime"]
        if self.runtime not in RUNTIMES:
            raise ValueError(f"manifest runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        self.name = model["name"]
        self.dimensions = int(model["dimensions"])
        self.max_seq_length = int(model["max_seq_length"])
        self.pooling = model["pooling"]
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"manifest pooling {self.pooling!r} is not one of {', '.join(POOLING_MODES)}")
        self.normalize = bool(model.get("normalize", True))
        tok = model["tokenizer"]
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, tok["file"]))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.no_padding()  # embed() pads each length-sorted chunk to its own longest text
        self.pad_id, self.pad_token = int(tok["pad_id"]), tok["pad_token"]
        threads = _thread_count()
        if self.runtime == "torch":
            import torch
            from transformers import AutoModel

            torch.set_num_threads(threads)
            self._torch = torch
            self.encoder = AutoModel.from_pretrained(model_dir).eval()
            self.input_names = ["input_ids", "attention_mask", "token_type_ids"]
        else:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(
                os.path.join(model_dir, model["file"]), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            self.input_names = [i.name for i in self.session.get_inputs()]
            names = set(self.input_names)
            if not {"input_ids", "attention_mask"} <= names <= {"input_ids", "attention_mask", "token_type_ids"}:
                raise ValueError(f"{model['file']} takes inputs {self.input_names}; this handler feeds input_ids, "
                                 "attention_mask and optionally token_type_ids")
        self._type_ids = "token_type_ids" in self.input_names
        self._threads = threads
        # onnx-int8 batches: a one-thread session shared by `threads` workers, made at the first batch (a second
        # session would double model_fn's time, which a cold start pays; batch-1 requests never need it)
        self._model_path = None if self.runtime == "torch" else os.path.join(model_dir, model["file"])
        self._pool_lock = threading.Lock()
        self._workers = None

    def embed(self, texts: list[str]):
        """(float32 array [len(texts), dimensions], [truncated?] per text).

        torch / onnx: texts are run shortest-first in the chunks plan_chunks picks, each padded to its own
        longest text: padding is wasted work, and TOKEN_BUDGET bounds peak memory (attention is rows x
        length^2) whatever the batch size. onnx-int8: one encoder call per text (_embed_each), so that a
        text's vector never depends on the texts sent with it.
        """
        np = self._np
        if len(texts) == 1:
            return self._embed_one(texts[0])
        if self.runtime == "onnx-int8":
            return self._embed_each(texts)
        encodings = self.tokenizer.encode_batch(texts)
        truncated = [bool(e.overflowing) for e in encodings]
        # (length, text): the same texts form the same chunks, in the same row order, whatever the input order
        order = sorted(range(len(texts)), key=lambda i: (len(encodings[i].ids), texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start, stop in plan_chunks([len(encodings[i].ids) for i in order]):
            chunk = [encodings[i] for i in order[start:stop]]
            longest = len(chunk[-1].ids)
            for e in chunk:
                e.pad(longest, pad_id=self.pad_id, pad_token=self.pad_token)
            out[order[start:stop]] = self._encode(chunk)
        return out, truncated

    def _embed_one(self, text: str):
        """The batch-1 path, kept lean: a request's Python work runs with caches cold from the encoder (a numpy
        call costs several times what it costs warm), so one text gets no ordering, chunk plan,
        padding or mask arithmetic, and as few numpy calls as its pooling needs. encode() stays on this thread:
        encode_batch wakes the tokenizer's thread pool, whose spinning workers compete with onnxruntime's for
        the same 1-2 vCPUs."""
        encoding = self.tokenizer.encode(text)
        return self._vector(encoding, self._hidden)[None, :], [bool(encoding.overflowing)]

    def _vector(self, encoding, hidden_of):
        """The pooled (normalised) vector of one unpadded encoding; hidden_of(feeds) runs the encoder."""
        np = self._np
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}  # one unpadded text: every token is real
        if self._type_ids:
            feeds["token_type_ids"] = np.array([encoding.type_ids], dtype=np.int64)
        hidden = hidden_of(feeds)[0]  # [tokens, dimensions], ours to modify
        if self.pooling == "cls":
            vector = hidden[0]
        elif self.pooling == "max":
            vector = hidden.max(axis=0)
        else:
            vector = hidden.sum(axis=0)
            if not self.normalize:  # (normalising cancels the 1/n or 1/sqrt(n) of mean and mean_sqrt_len)
                vector *= 1 / (len(hidden) if self.pooling == "mean" else len(hidden) ** 0.5)
        if self.normalize:
            vector *= 1 / max(math.sqrt(vector @ vector), 1e-12)
        return vector

    def _embed_each(self, texts: list[str]):
        """Every text in an encoder call of its own, on the batch workers (see _batch_workers)."""
        np = self._np
        encodings = self.tokenizer.encode_batch(texts)
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        executor, run = self._batch_workers()
        if executor is None:
            for i, e in enumerate(encodings):
                out[i] = self._vector(e, run)
        else:
            for i, vector in enumerate(executor.map(lambda e: self._vector(e, run), encodings)):
                out[i] = vector
        return out, [bool(e.overflowing) for e in encodings]

    def _batch_workers(self):
        """(executor or None, run(feeds) -> last_hidden_state) for the texts of a batch.

        With one thread: the main session, text after text. With more: a one-thread session that `threads`
        workers call concurrently (onnxruntime sessions are thread-safe), each running its own text: as many
        small GEMMs in parallel as there are vCPUs, instead of each GEMM split across them, which pays little
        at a single text's few rows (docs/benchmark-notes.md, "What limits batch 1").
        """
        if self._threads == 1:
            return None, self._hidden
        with self._pool_lock:
            if self._workers is None:
                from concurrent.futures import ThreadPoolExecutor

                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.log_severity_level = 3
                session = ort.InferenceSession(self._model_path, sess_options=opts,
                                               providers=["CPUExecutionProvider"])
                self._workers = (ThreadPoolExecutor(self._threads, thread_name_prefix="sls-encoder"),
                                 lambda feeds: session.run(None, feeds)[0])
            return self._workers

    def _hidden(self, feeds: dict):
        """last_hidden_state [rows, length, dimensions] as float32 for the graph's (or model's) inputs; feeds
        holds input_ids, attention_mask and, if the graph takes it, token_type_ids."""
        if self.runtime == "torch":
            torch = self._torch
            with torch.inference_mode():
                out = self.encoder(**{k: torch.from_numpy(v) for k, v in feeds.items()})
            return out.last_hidden_state.float().numpy()
        return self.session.run(None, feeds)[0]  # float32: the graphs' output type (onnx_export.py)

    def _encode(self, encodings):
        np = self._np
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64), "attention_mask": mask}
        if self._type_ids:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        vectors = self._pool(self._hidden(feeds), mask)
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return vectors

    def _pool(self, hidden, mask):
        np = self._np
        m = mask[:, :, None].astype(np.float32)
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "max":
            return np.where(m > 0, hidden, np.float32(-1e9)).max(axis=1)
        summed = (hidden * m).sum(axis=1)
        counts = np.maximum(m.sum(axis=1), 1e-9)
        if self.pooling == "mean_sqrt_len":
            return summed / np.sqrt(counts)
        return summed / counts


def plan_chunks(lengths: list[int], overhead: int = CHUNK_OVERHEAD,
                budget: int = TOKEN_BUDGET) -> list[tuple[int, int]]:
    """[start, stop) chunks of ascending token lengths minimising sum(overhead + rows x longest).

    Exact dynamic programme over split points (O(n^2), n <= max_batch); a chunk never exceeds `budget`
    padded tokens unless it is a single text.
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for stop in range(1, n + 1):
        longest = lengths[stop - 1]
        for start in range(stop - 1, -1, -1):
            rows = stop - start
            if rows > 1 and rows * longest > budget:
                break
            cost = best[start] + overhead + rows * longest
            if cost < best[stop]:
                best[stop], cut[stop] = cost, start
    chunks, stop = [], n
    while stop > 0:
        chunks.append((cut[stop], stop))
        stop = cut[stop]
    return chunks[::-1]


def model_fn(model_dir: str) -> EmbeddingModel:
    """Verify the artifact against its manifest (refusing tampered files), then load tokenizer and encoder."""
    manifest = verify_manifest(model_dir)
    handler = manifest.get("handler", {})
    _limits["max_batch"] = int(handler.get("max_batch", DEFAULT_MAX_BATCH))
    _limits["max_payload_bytes"] = int(handler.get("max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES))
    return EmbeddingModel(model_dir, manifest)


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def input_fn(request_body, request_content_type: str) -> dict:
    """Check size, content type and shape of a request; returns {"texts": [...]} or raises RequestError."""
    if _media_type(request_content_type) != JSON:
        raise unsupported_media_type(
            f"content type {request_content_type!r} is not supported; send {JSON} with "
            '{"inputs": "text"} or {"inputs": ["text", ...]}'
        )
    if isinstance(request_body, str):
        try:
            request_body = request_body.encode("utf-8")
        except UnicodeEncodeError as e:
            raise bad_request(f"request body is not valid UTF-8 text: {e}") from None
    elif isinstance(request_body, (bytearray, memoryview)):
        request_body = bytes(request_body)
    elif not isinstance(request_body, bytes):
        raise bad_request(f"request body must be bytes or text, got {type(request_body).__name__}")
    limit = _limits["max_payload_bytes"]
    if len(request_body) > limit:
        raise too_large(
            f"request body is {len(request_body)} bytes; this endpoint accepts at most {limit} bytes "
            f"(serverless payload limit 4 MB): send fewer or shorter inputs per request"
        )
    try:
        payload = json.loads(request_body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise bad_request(f"request body is not valid UTF-8: {e}") from None
    except RecursionError:
        raise bad_request("malformed JSON: nested too deeply") from None
    except ValueError as e:
        raise bad_request(f"malformed JSON: {e}") from None
    return {"texts": _validate(payload)}


def _validate(payload) -> list[str]:
    shape = '{"inputs": "text"} or {"inputs": ["text", ...]}'
    if not isinstance(payload, dict):
        raise bad_request(f"expected a JSON object {shape}, got a JSON {_json_type(payload)}")
    if "inputs" not in payload:
        raise bad_request(f"missing key 'inputs'; expected {shape}")
    extra = sorted(k for k in payload if k != "inputs")
    if extra:
        raise bad_request(f"unsupported key(s) {', '.join(map(repr, extra))}; the only allowed key is 'inputs'")
    inputs = payload["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    elif not isinstance(inputs, list):
        raise bad_request(f"'inputs' must be a string or a list of strings, got a JSON {_json_type(inputs)}")
    if not inputs:
        raise bad_request("'inputs' is an empty list; send at least one string")
    max_batch = _limits["max_batch"]
    if len(inputs) > max_batch:
        raise too_large(f"'inputs' has {len(inputs)} items; this endpoint accepts at most {max_batch} per request")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise bad_request(f"inputs[{i}] is a JSON {_json_type(text)}; every input must be a string")
        if not text.strip():
            raise bad_request(f"inputs[{i}] is empty or only whitespace; every input must contain text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request(f"inputs[{i}] contains an unpaired UTF-16 surrogate escape; send valid Unicode") from None
    return inputs


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def predict_fn(data: dict, model: EmbeddingModel) -> dict:
    """Embed the validated texts; the response document (not yet serialised; embeddings as a float32 array)."""
    vectors, truncated = model.embed(data["texts"])
    return {"embeddings": vectors, "model": model.name, "dimensions": model.dimensions, "truncated": truncated}


def _accepts_json(accept: str | None) -> bool:
    if not accept or accept == JSON or not accept.strip():
        return True
    return any(_media_type(part) in (JSON, "application/*", "*/*") for part in accept.split(","))


def output_fn(prediction: dict, accept: str | None) -> bytes:
    """Serialise as JSON; any other Accept gets 406. Returns bytes only (the HF toolkit does not take tuples).

    Every float32 is written exactly (it reads back to the same float32). With orjson (vendored by the onnx
    runtimes) each value is the shortest such decimal, written in C; without it (the torch runtime's image)
    "%.9g", several times slower -- after tokenisation the largest Python cost of a batch-1 request. NaN/inf
    would not be valid JSON (orjson would write null), so they are refused.
    """
    if not _accepts_json(accept):
        raise not_acceptable(f"Accept {accept!r} is not supported; this endpoint answers {JSON}")
    import numpy as np

    vectors = np.ascontiguousarray(prediction["embeddings"], dtype=np.float32)
    # one reduction instead of isfinite() + all(): a float64 sum of float32 values cannot overflow, so it is
    # finite exactly when every value is (NaN and +-inf propagate)
    if not math.isfinite(vectors.sum(dtype=np.float64)):
        raise ValueError("the model produced a non-finite embedding; refusing to send invalid JSON")
    if orjson is not None:
        return orjson.dumps({**prediction, "embeddings": vectors}, option=orjson.OPT_SERIALIZE_NUMPY)
    rest = {k: v for k, v in prediction.items() if k != "embeddings"}
    tail = json.dumps(rest, separators=(",", ":"))
    return ('{"embeddings":' + _json_matrix(vectors) + ("," + tail[1:] if rest else "}")).encode()


def _json_matrix(vectors) -> str:
    """A finite float32 matrix as a JSON array of arrays, faster than json.dumps(vectors.tolist()).

    "%.9g" is the shortest fixed format that round-trips every float32 exactly (9 significant digits); one
    format string per row does the work in C.
    """
    row = "[" + ",".join(["%.9g"] * vectors.shape[1]) + "]"
    return "[" + ",".join(row % tuple(r) for r in vectors.tolist()) + "]"


__all__ = ["EmbeddingModel", "RequestError", "input_fn", "model_fn", "output_fn", "predict_fn"]
