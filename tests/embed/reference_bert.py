"""Reference BERT for the C++ encoder tests, written from the published BERT
definition (Devlin et al., 2019; the Hugging Face BertModel parameter layout)
with PyTorch only: no `transformers` package.

  reference_bert.py make OUT_DIR VOCAB --pooling mean|cls [--dtype F32|F16] [--seed N]
      writes a small random-weight checkpoint in the Hugging Face layout
  reference_bert.py embed OUT_DIR IDS.json
      prints a JSON list of sentence embeddings for the token id lists
"""
import json
import math
import os
import shutil
import struct
import sys

import torch

SHAPE = dict(layers=2, hidden=32, heads=4, intermediate=64, max_pos=64, type_vocab=2)


def tensor_specs(vocab_size):
    h, i = SHAPE["hidden"], SHAPE["intermediate"]
    specs = {
        "embeddings.word_embeddings.weight": (vocab_size, h),
        "embeddings.position_embeddings.weight": (SHAPE["max_pos"], h),
        "embeddings.token_type_embeddings.weight": (SHAPE["type_vocab"], h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for l in range(SHAPE["layers"]):
        p = f"encoder.layer.{l}."
        for name, shape in [
            ("attention.self.query", (h, h)), ("attention.self.key", (h, h)), ("attention.self.value", (h, h)),
            ("attention.output.dense", (h, h)), ("intermediate.dense", (i, h)), ("output.dense", (h, i)),
        ]:
            specs[p + name + ".weight"] = shape
            specs[p + name + ".bias"] = (shape[0],)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            specs[p + norm + ".weight"] = (h,)
            specs[p + norm + ".bias"] = (h,)
    return specs


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.to(torch.float16 if dtype == "F16" else torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = torch.float16 if info["dtype"] == "F16" else torch.float32
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(info["shape"]).to(torch.float64)
    return out


def make(out_dir, vocab, pooling, dtype, seed):
    os.makedirs(os.path.join(out_dir, "1_Pooling"), exist_ok=True)
    shutil.copy(vocab, os.path.join(out_dir, "vocab.txt"))
    vocab_size = sum(1 for _ in open(vocab, encoding="utf-8"))
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in tensor_specs(vocab_size).items():
        if name.endswith("LayerNorm.weight"):
            tensors[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            tensors[name] = 0.3 * torch.randn(shape, generator=g)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, dtype)
    config = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": vocab_size,
              "hidden_size": SHAPE["hidden"], "num_hidden_layers": SHAPE["layers"],
              "num_attention_heads": SHAPE["heads"], "intermediate_size": SHAPE["intermediate"],
              "max_position_embeddings": SHAPE["max_pos"], "type_vocab_size": SHAPE["type_vocab"],
              "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    json.dump(config, open(os.path.join(out_dir, "config.json"), "w"))
    json.dump({"word_embedding_dimension": SHAPE["hidden"], "pooling_mode_cls_token": pooling == "cls",
               "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False},
              open(os.path.join(out_dir, "1_Pooling", "config.json"), "w"))
    json.dump([{"idx": 0, "type": "sentence_transformers.models.Transformer", "path": ""},
               {"idx": 1, "type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
               {"idx": 2, "type": "sentence_transformers.models.Normalize", "path": "2_Normalize"}],
              open(os.path.join(out_dir, "modules.json"), "w"))
    json.dump({"max_seq_length": SHAPE["max_pos"], "do_lower_case": False},
              open(os.path.join(out_dir, "sentence_bert_config.json"), "w"))


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def embed(out_dir, ids_path):
    w = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    config = json.load(open(os.path.join(out_dir, "config.json")))
    pooling = json.load(open(os.path.join(out_dir, "1_Pooling", "config.json")))
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    d = hidden // heads
    # A padded batch with an attention mask, as BERT is usually run: checks
    # that padding handling in the C++ (which concatenates instead) agrees.
    batch = json.load(open(ids_path))
    longest = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), longest), dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.float64)
    for i, s in enumerate(batch):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    pos = torch.arange(longest)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos] \
        + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask)[:, None, None, :] * -1e9
    for l in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        split = lambda t: t.view(t.shape[0], t.shape[1], heads, d).transpose(1, 2)
        q, k, v = split(lin(x, "attention.self.query")), split(lin(x, "attention.self.key")), split(lin(x, "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(x.shape)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        inner = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    if pooling.get("pooling_mode_cls_token"):
        pooled = x[:, 0]
    else:
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
    pooled = pooled / pooled.norm(dim=-1, keepdim=True)
    print(json.dumps(pooled.tolist()))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        args = sys.argv[2:]
        opts = dict(zip(args[2::2], args[3::2]))
        make(args[0], args[1], opts.get("--pooling", "mean"), opts.get("--dtype", "F32"), int(opts.get("--seed", "7")))
    elif cmd == "embed":
        embed(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: reference_bert.py make|embed ...")
