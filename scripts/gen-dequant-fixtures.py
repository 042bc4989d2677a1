#!/usr/bin/env python3
"""Generates Tests/Fixtures/quant/gemma3-dequant.json: rows of Gemma 3's Q5_0, Q4_K, Q6_K and
Q8_0 tensors dequantized by ggml's own Python package (`gguf`, numpy), as the oracle of
Tessera's block formats. Each row is recorded as the sha256 of its little-endian f32 values
(bitwise, since both follow ggml's order of float operations) and its first values.

    scripts/gen-dequant-fixtures.py [--model models/gemma-3-270m-q4_k_m.gguf]

Creates .venv-gguf (pinned gguf and numpy) on first use.
"""
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-gguf")
PINS = ["gguf==0.19.0", "numpy==2.3.5"]
MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quant", "gemma3-dequant.json")
# One tensor per type, and the rows to record (negative: from the end).
TENSORS = {
    "Q5_0": "blk.0.attn_q.weight",
    "Q4_K": "blk.0.attn_output.weight",
    "Q6_K": "blk.0.ffn_down.weight",
    "Q8_0": "token_embd.weight",
}
ROWS = [0, 1, 7, -1]


def in_venv():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", *PINS], check=True)
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(python, [python, *sys.argv])


def main():
    in_venv()
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize

    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else MODEL
    reader = GGUFReader(model)
    by_name = {t.name: t for t in reader.tensors}
    cases = []
    for type_name, name in TENSORS.items():
        tensor = by_name[name]
        if tensor.tensor_type.name != type_name:
            sys.exit(f"{name} is {tensor.tensor_type.name}, not {type_name}")
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        rows, columns = values.shape
        for row in ROWS:
            index = row % rows
            data = values[index].astype("<f4").tobytes()
            cases.append({
                "type": type_name, "tensor": name, "row": index, "columns": columns,
                "sha256": hashlib.sha256(data).hexdigest(),
                "first": [float(v) for v in values[index][:8]],
            })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"model": os.path.basename(model), "reference": "gguf " + PINS[0].split("==")[1],
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} rows")


if __name__ == "__main__":
    main()
