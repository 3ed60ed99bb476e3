"""Reference embeddings for the MiniLM test (tests/minilm.rs), computed without the Rust code.

sentence-transformers needs torch, which is too heavy to install for a test fixture, so this is
BERT written out in numpy (the same arithmetic as transformers' BertModel in float32) over the
package's own tokenizer.json (HF `tokenizers`) and model.safetensors, followed by
sentence-transformers' pipeline for this model: truncate to 256 tokens, mean pooling over the
attention mask, L2 normalisation. Run once, by hand, when the model or the sentences change:

    pip install --target /tmp/refpy numpy tokenizers safetensors
    PYTHONPATH=/tmp/refpy python3 tests/data/minilm_reference.py "$AIOPS_EMBED_MODEL_DIR" \
        > tests/data/minilm_reference.json
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "my pod keeps restarting over and over, what should I look at?",
    "The container is in CrashLoopBackOff and restarts repeatedly.",
    "How do I bake sourdough bread at home?",
    "etcd has no leader",
    "",
]


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(model_dir, text):
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = load_file(f"{model_dir}/model.safetensors")
    p = "" if "embeddings.word_embeddings.weight" in w else "bert."
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    ids = np.array(tok.encode(text).ids)
    n = len(ids)
    h = (w[p + "embeddings.word_embeddings.weight"][ids]
         + w[p + "embeddings.position_embeddings.weight"][np.arange(n)]
         + w[p + "embeddings.token_type_embeddings.weight"][np.zeros(n, dtype=int)])
    h = layer_norm(h, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"])
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    for i in range(cfg["num_hidden_layers"]):
        l = f"{p}encoder.layer.{i}."
        lin = lambda x, name: x @ w[l + name + ".weight"].T + w[l + name + ".bias"]
        q = lin(h, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = lin(h, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = lin(h, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        h = layer_norm(lin(ctx, "attention.output.dense") + h,
                       w[l + "attention.output.LayerNorm.weight"], w[l + "attention.output.LayerNorm.bias"])
        inter = gelu(lin(h, "intermediate.dense"))
        h = layer_norm(lin(inter, "output.dense") + h,
                       w[l + "output.LayerNorm.weight"], w[l + "output.LayerNorm.bias"])
    pooled = h.mean(0)
    return (pooled / np.linalg.norm(pooled)).astype(np.float32)


def main():
    model_dir = sys.argv[1]
    out = [{"text": s, "embedding": [round(float(x), 6) for x in embed(model_dir, s)]} for s in SENTENCES]
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
