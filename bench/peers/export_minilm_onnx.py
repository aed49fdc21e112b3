#!/usr/bin/env python3
"""Exports all-MiniLM-L6-v2 (a Kioku/Hugging Face model folder) to ONNX for the
ONNX Runtime peer: the transformer plus mean pooling and L2 normalisation, as
sentence-transformers computes them, with dynamic batch and sequence axes.

Usage: export_minilm_onnx.py MODEL_DIR OUT.onnx
Runs under a Python with torch and transformers (the kioku-test venv that
scripts/fetch-test-models sets up). Written outside the repository.
"""
import sys

import torch
from transformers import AutoModel


class SentenceEncoder(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    bert = AutoModel.from_pretrained(model_dir).eval()
    model = SentenceEncoder(bert).eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    mask = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), out, input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "embedding": {0: "batch"}},
                          opset_version=14, do_constant_folding=True)
    print(out)


if __name__ == "__main__":
    main()
