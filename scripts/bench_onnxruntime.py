"""Reference embedding throughput: the same ONNX model and tokenizer under
ONNX Runtime (CPU, one thread), mean pooling + L2 as sentence-transformers.

usage: python3 scripts/bench_onnxruntime.py SENTENCES_FILE [MODEL_DIR]
needs: pip install onnxruntime==1.31.1 tokenizers numpy
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

sentences = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
models = sys.argv[2] if len(sys.argv) > 2 else "models"
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
t = time.perf_counter()
session = ort.InferenceSession(f"{models}/all-MiniLM-L6-v2-fp32.onnx", opts, providers=["CPUExecutionProvider"])
print(f"onnxrt  model load+optimise      {(time.perf_counter() - t) * 1e3:8.0f} ms")
tok = Tokenizer.from_file(f"{models}/tokenizer.json")
tok.enable_truncation(256)
tok.enable_padding(pad_id=0, pad_token="[PAD]")
names = [i.name for i in session.get_inputs()]


def embed(batch):
    enc = tok.encode_batch(batch)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


embed(sentences[:1])
for size in (1, 32):
    t = time.perf_counter()
    for i in range(0, len(sentences), size):
        embed(sentences[i:i + size])
    print(f"onnxrt  batch {size:<2} throughput        {len(sentences) / (time.perf_counter() - t):8.1f} sentences/s")
