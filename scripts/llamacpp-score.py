#!/usr/bin/env python3
"""Teacher-forced top-K logits from llama.cpp (llama-cpp-python), for comparing an engine's logits.

    PY="$(scripts/llamacpp-venv | tail -1)"
    "$PY" scripts/llamacpp-score.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf \
        --prompt-ids 504,3575,282,4649,314 --continuation-ids 7042,30 --top 5

Prints one JSON line: {"steps":[{"top":[{"id":..,"logit":..}, ...]}, ...]} where steps[j] holds the
top-K logits of the next-token distribution after prompt + continuation[:j], i.e. the prediction of
continuation[j]. With an empty continuation there is one step: the prediction after the prompt.
Ids are fed as given: no BOS is added and nothing is tokenized.

--mode batch (default) evaluates prompt + continuation in one llama_decode call (like prompt
processing, or perplexity). --mode generate evaluates the prompt in one call and then the
continuation one token per call, as llama.cpp does while generating (this is how the goldens in
shared/golden were made). llama.cpp's logits differ slightly between the two (by ~0.1, at most
~1): a batch of one token takes matrix-vector kernels, a longer batch matrix-matrix ones.
--n-batch N (batch mode only) caps the tokens per call instead.
"""
import argparse
import json
import os
import sys

import numpy as np

import llama_cpp


def parse_ids(s):
    s = (s or "").strip()
    return [int(x) for x in s.split(",") if x.strip()] if s else []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    ap.add_argument("--continuation-ids", default="", help="comma-separated token ids (teacher-forced)")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--mode", choices=["batch", "generate"], default="batch")
    ap.add_argument("--n-batch", type=int, default=0, help="batch mode: tokens per decode call (0 = all at once)")
    ap.add_argument("--chosen", action="store_true",
                    help="also print, per step, the forced token's id and logit")
    args = ap.parse_args()

    prompt = parse_ids(args.prompt_ids)
    cont = parse_ids(args.continuation_ids)
    if not prompt:
        sys.exit("--prompt-ids must not be empty")

    # Evaluate prompt + continuation[:-1]; the logits at the last len(steps) positions are the steps.
    tokens = prompt + cont[:-1] if cont else list(prompt)
    n_steps = max(1, len(cont))
    n_ctx = max(len(tokens) + 1, 64)
    if args.mode == "generate":
        n_batch = len(prompt)
    else:
        n_batch = args.n_batch if args.n_batch > 0 else len(tokens)

    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=n_ctx,
        n_batch=n_batch,
        n_ubatch=n_batch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        logits_all=True,
        verbose=False,
    )
    n_vocab = llm.n_vocab()
    for t in tokens + cont:
        if not 0 <= t < n_vocab:
            sys.exit("token id %d out of range (n_vocab %d)" % (t, n_vocab))

    if args.mode == "generate":
        llm.eval(prompt)
        for t in cont[:-1]:
            llm.eval([t])
    else:
        llm.eval(tokens)
    scores = np.asarray(llm.scores[: len(tokens)], dtype=np.float32)
    rows = scores[len(tokens) - n_steps:]

    steps = []
    k = min(args.top, n_vocab)
    for j, row in enumerate(rows):
        idx = np.argpartition(-row, k - 1)[:k]
        idx = idx[np.lexsort((idx, -row[idx]))]  # by logit descending, then id ascending
        step = {"top": [{"id": int(i), "logit": round(float(row[i]), 4)} for i in idx]}
        if args.chosen and j < len(cont):
            step["id"] = cont[j]
            step["logit"] = round(float(row[cont[j]]), 4)
        steps.append(step)
    print(json.dumps({"steps": steps}))


if __name__ == "__main__":
    main()
