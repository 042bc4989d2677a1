#!/usr/bin/env python3
"""Prompt-processing and generation speed of llama.cpp, measured the way llama-bench measures it.

    PY="$(scripts/llamacpp-venv | tail -1)"
    "$PY" scripts/llamacpp-bench.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2 --json

Uses llama-cpp-python's low-level ctypes API only (no llama_cpp.Llama), so Python adds nothing
measurable: all Python work (filling batches, picking tokens) is done before the clock starts or is
a few attribute writes per multi-millisecond llama_decode.

Two tests, as in llama-bench (each on its own context, like llama-bench's pp and tg instances):
  pp: from an empty KV cache, one llama_decode of a batch of P random tokens (BOS first if the
      model adds one); n_batch = max(2048, P) and n_ubatch = min(P, 8192), so it is one ubatch up
      to 8K tokens (a 32K ubatch's attention buffers cannot be allocated); logits only for the
      last token. Speed = P / time.
  tg: from an empty KV cache, G llama_decode calls of one token each (BOS, then random ids), with
      llama_synchronize after each. Speed = G / time. With --gen-context D (llama-bench's
      "tg128 @ dD"), D random tokens are decoded first (BOS first, in ubatches of 512, untimed),
      and the G timed tokens follow at positions D, D + 1, ….
Before the timed runs each test gets one warm-up (llama-bench's: a full pp run, a 1-token tg run).
The KV cache is cleared (llama_memory_clear) before every run. The reported figure is the median of
--repetitions timed runs (llama-bench prints the mean; the samples are in the JSON output).

Like llama-bench, a ggml CPU threadpool (poll=50) of --threads threads is attached to each context;
context params otherwise keep llama.cpp's defaults (f16 KV cache, flash attention "auto").
llama.cpp's log output is suppressed.

The JSON also reports "other_cpu_cores": CPU used by other processes during the run (from
/proc/stat minus our own rusage), in cores; anything above ~0.1 means the machine was busy and the
figures should not be trusted.
"""
import argparse
import ctypes
import json
import os
import random
import resource
import statistics
import sys
import time

import llama_cpp

try:
    from importlib.metadata import version as _pkg_version

    LLAMA_CPP_PYTHON_VERSION = _pkg_version("llama_cpp_python")
except Exception:  # pragma: no cover
    LLAMA_CPP_PYTHON_VERSION = getattr(llama_cpp, "__version__", "unknown")


# --- logging --------------------------------------------------------------------------------------

@llama_cpp.llama_log_callback
def _null_log(level, text, user_data):  # kept referenced at module level so it is never collected
    pass


# --- threadpool (llama-cpp-python does not wrap llama_attach_threadpool; bind it here) -------------

GGML_MAX_N_THREADS = 512  # ggml.h


class ggml_threadpool_params(ctypes.Structure):
    _fields_ = [
        ("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


class Threadpools:
    """Creates/frees ggml CPU threadpools and attaches them to contexts, if the symbols exist."""

    def __init__(self):
        self.ok = False
        try:
            lib_dir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
            base = ctypes.CDLL(os.path.join(lib_dir, "libggml-base.so"))
            cpu = ctypes.CDLL(os.path.join(lib_dir, "libggml-cpu.so"))
            llama = llama_cpp.llama_cpp._lib
            self._init = base.ggml_threadpool_params_init
            self._init.argtypes = [ctypes.POINTER(ggml_threadpool_params), ctypes.c_int]
            self._init.restype = None
            self._new = cpu.ggml_threadpool_new
            self._new.argtypes = [ctypes.POINTER(ggml_threadpool_params)]
            self._new.restype = ctypes.c_void_p
            self._free = cpu.ggml_threadpool_free
            self._free.argtypes = [ctypes.c_void_p]
            self._free.restype = None
            self._attach = llama.llama_attach_threadpool
            self._attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
            self._attach.restype = None
            self.ok = True
        except (OSError, AttributeError):
            pass

    def attach_new(self, ctx, n_threads):
        """Returns the threadpool handle (to free after the context), or None."""
        if not self.ok:
            return None
        p = ggml_threadpool_params()
        self._init(ctypes.byref(p), n_threads)  # defaults: no cpumask, prio normal, poll 50, not strict
        tp = self._new(ctypes.byref(p))
        if not tp:
            return None
        self._attach(ctx, tp, None)
        return tp

    def free(self, tp):
        if tp:
            self._free(tp)


# --- machine load ---------------------------------------------------------------------------------

def _busy_jiffies():
    """Busy CPU time of the whole machine (all cores), in seconds, from /proc/stat (None if absent)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...; busy = all but idle and iowait
    busy = sum(v[:8]) - v[3] - v[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class LoadMeter:
    """CPU used by *other* processes (and hypervisor steal) while we run, in cores (0.0 = quiet)."""

    def __init__(self):
        self.t0, self.b0, self.s0 = time.monotonic(), _busy_jiffies(), _self_cpu()
        self.loadavg0 = os.getloadavg()[0]

    def other_cores(self):
        b1 = _busy_jiffies()
        if self.b0 is None or b1 is None:
            return None
        wall = time.monotonic() - self.t0
        other = (b1 - self.b0) - (_self_cpu() - self.s0)
        return round(max(0.0, other) / wall, 2) if wall > 0 else None


# --- benchmark ------------------------------------------------------------------------------------

def make_context(model, n_ctx, n_batch, n_ubatch, n_threads):
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = n_batch
    cp.n_ubatch = n_ubatch
    cp.n_threads = n_threads
    cp.n_threads_batch = n_threads
    cp.no_perf = True
    ctx = llama_cpp.llama_init_from_model(model, cp)
    if not ctx:
        sys.exit("llamacpp-bench: failed to create a context (n_ctx %d)" % n_ctx)
    llama_cpp.llama_set_n_threads(ctx, n_threads, n_threads)
    return ctx


def clear_cache(ctx):
    if hasattr(llama_cpp, "llama_get_memory") and hasattr(llama_cpp, "llama_memory_clear"):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), False)
    else:  # older llama.cpp
        llama_cpp.llama_kv_self_clear(ctx)


def decode(ctx, batch, what):
    rc = llama_cpp.llama_decode(ctx, batch)
    if rc != 0:
        sys.exit("llamacpp-bench: llama_decode failed (%s), rc = %d" % (what, rc))


def fill_prompt_batch(batch, n, vocab, n_vocab, rng):
    bos = llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else -1
    for i in range(n):
        batch.token[i] = bos if (i == 0 and bos >= 0) else rng.randrange(n_vocab)
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1 if i == n - 1 else 0
    batch.n_tokens = n


def run_prompt(ctx, batch, n_prompt, vocab, n_vocab, rng):
    """One pp run from an empty cache; returns seconds."""
    clear_cache(ctx)
    fill_prompt_batch(batch, n_prompt, vocab, n_vocab, rng)
    t0 = time.perf_counter_ns()
    decode(ctx, batch, "prompt")
    llama_cpp.llama_synchronize(ctx)
    return (time.perf_counter_ns() - t0) / 1e9


def fill_depth(ctx, depth, vocab, n_vocab, rng):
    """Decodes `depth` random tokens (BOS first) from an empty cache, in ubatches of 512."""
    chunk = 512
    batch = llama_cpp.llama_batch_init(chunk, 0, 1)
    bos = llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else -1
    for start in range(0, depth, chunk):
        n = min(chunk, depth - start)
        for i in range(n):
            pos = start + i
            batch.token[i] = bos if (pos == 0 and bos >= 0) else rng.randrange(n_vocab)
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1 if i == n - 1 else 0
        batch.n_tokens = n
        decode(ctx, batch, "context")
    llama_cpp.llama_synchronize(ctx)
    llama_cpp.llama_batch_free(batch)


def run_gen(ctx, batch, n_gen, vocab, n_vocab, rng, depth=0):
    """One tg run: n_gen single-token decodes after `depth` untimed ones; returns seconds."""
    clear_cache(ctx)
    if depth > 0:
        fill_depth(ctx, depth, vocab, n_vocab, rng)
    first = (llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) and depth == 0
             else rng.randrange(n_vocab))
    tokens = [first] + [rng.randrange(n_vocab) for _ in range(n_gen - 1)]
    batch.n_tokens = 1
    batch.n_seq_id[0] = 1
    batch.seq_id[0][0] = 0
    batch.logits[0] = 1
    tok, pos = batch.token, batch.pos
    sync = llama_cpp.llama_synchronize
    t0 = time.perf_counter_ns()
    for i in range(n_gen):
        tok[0] = tokens[i]
        pos[0] = depth + i
        decode(ctx, batch, "generation")
        sync(ctx)
    return (time.perf_counter_ns() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--prompt-tokens", type=int, default=512, help="P for the pp test (0 = skip)")
    ap.add_argument("--gen-tokens", type=int, default=128, help="G for the tg test (0 = skip)")
    ap.add_argument("--gen-context", type=int, default=0,
                    help="D tokens in the cache before the tg test's timed tokens (llama-bench -d)")
    ap.add_argument("--repetitions", type=int, default=5, help="timed runs per test (median reported)")
    ap.add_argument("--seed", type=int, default=1234, help="for the random token ids")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    if args.threads < 1 or args.repetitions < 1 or args.prompt_tokens < 0 or args.gen_tokens < 0:
        sys.exit("llamacpp-bench: --threads and --repetitions must be >= 1, token counts >= 0")
    if not os.path.isfile(args.model):
        sys.exit("llamacpp-bench: no such model file: %s" % args.model)

    llama_cpp.llama_log_set(_null_log, None)
    llama_cpp.llama_backend_init()
    rng = random.Random(args.seed)
    P, G, T = args.prompt_tokens, args.gen_tokens, args.threads

    mp = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(args.model.encode(), mp)
    if not model:
        sys.exit("llamacpp-bench: failed to load %s" % args.model)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    pools = Threadpools()

    pp_samples, tg_samples = [], []
    meter = LoadMeter()

    if P > 0:
        ctx = make_context(model, n_ctx=P, n_batch=max(2048, P), n_ubatch=min(P, 8192), n_threads=T)
        tp = pools.attach_new(ctx, T)
        batch = llama_cpp.llama_batch_init(P, 0, 1)
        run_prompt(ctx, batch, P, vocab, n_vocab, rng)  # warm-up
        for _ in range(args.repetitions):
            pp_samples.append(P / run_prompt(ctx, batch, P, vocab, n_vocab, rng))
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        pools.free(tp)

    if G > 0:
        D = args.gen_context
        ctx = make_context(model, n_ctx=D + G, n_batch=2048, n_ubatch=512, n_threads=T)
        tp = pools.attach_new(ctx, T)
        batch = llama_cpp.llama_batch_init(1, 0, 1)
        run_gen(ctx, batch, 1, vocab, n_vocab, rng)  # warm-up (llama-bench: one token)
        for _ in range(args.repetitions):
            tg_samples.append(G / run_gen(ctx, batch, G, vocab, n_vocab, rng, depth=D))
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        pools.free(tp)

    other_cpu = meter.other_cores()
    llama_cpp.llama_model_free(model)
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    llama_cpp.llama_backend_free()

    med = lambda xs: round(statistics.median(xs), 2) if xs else None
    result = {
        "prompt_tok_per_s": med(pp_samples),
        "gen_tok_per_s": med(tg_samples),
        "threads": T,
        "prompt_tokens": P,
        "gen_tokens": G,
        "gen_context": args.gen_context,
        "repetitions": args.repetitions,
        "prompt_tok_per_s_samples": [round(x, 2) for x in pp_samples],
        "gen_tok_per_s_samples": [round(x, 2) for x in tg_samples],
        "threadpool_attached": pools.ok,
        "loadavg_1min_at_start": round(meter.loadavg0, 2),
        "other_cpu_cores": other_cpu,
        "llama_cpp_python": LLAMA_CPP_PYTHON_VERSION,
        "system_info": system_info,
    }
    if args.json:
        print(json.dumps(result))
        return

    def row(test, xs):
        if not xs:
            return None
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return "| %-7s | %7d | %12.2f | %8.2f | %4d |" % (test, T, statistics.median(xs), sd, len(xs))

    print("llama.cpp via llama-cpp-python %s, model %s" % (LLAMA_CPP_PYTHON_VERSION, os.path.basename(args.model)))
    print("| test    | threads | median tok/s |    stdev | reps |")
    print("| ------- | ------: | -----------: | -------: | ---: |")
    for r in (row("pp%d" % P, pp_samples), row("tg%d" % G, tg_samples)):
        if r:
            print(r)
    print("system_info: %s" % system_info)
    print("machine load: 1-min loadavg %.2f at start; other processes used %s cores during the run%s"
          % (meter.loadavg0, other_cpu, " (BUSY: figures unreliable)" if (other_cpu or 0) > 0.1 else ""))


if __name__ == "__main__":
    main()
