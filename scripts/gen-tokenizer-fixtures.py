#!/usr/bin/env python3
"""Generates Tests/Fixtures/tokenizer/smollm2-llamacpp.json (and, with --model
models/gemma-3-270m-q4_k_m.gguf, gemma3-llamacpp.json): llama.cpp's tokenization of many hard
strings with the model's vocabulary — byte-level BPE for SmolLM2, SentencePiece for Gemma 3 —
to check Tessera's tokenizers against.

Run with the reference venv's python (see scripts/llamacpp-venv):

    PY="$(scripts/llamacpp-venv | tail -1)"
    "$PY" scripts/gen-tokenizer-fixtures.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--out ...]

For every case it records llama.cpp's ids with add_bos=False and
  ids_special: parse_special=True  (`<|im_start|>` and friends become their control token)
  ids_plain:   parse_special=False (special-token text is tokenized as ordinary text)
and, in "pieces", the bytes llama_token_to_piece(special=True, lstrip=0) gives for every id
that appears (hex, since a piece can be a partial UTF-8 sequence).
"""
import argparse
import ctypes
import hashlib
import importlib.metadata
import json
import os
import struct
import sys

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
# The models this script knows, by file name: their sha256 and default output.
MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "smollm2-llamacpp.json")),
    "gemma-3-270m-q4_k_m.gguf": (
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "gemma3-llamacpp.json")),
}

# --------------------------------------------------------------------------------------------
# Test strings
# --------------------------------------------------------------------------------------------

LONG_ENGLISH = """\
The lighthouse keeper's logbook, recovered in 1987 from a flooded cellar on the northern coast, \
begins with an entry dated March 3rd, 1911. "Wind from the south-west, veering west by evening; \
visibility poor. Lamp lit at 6:42 p.m." The handwriting is small and careful, the ink a faded \
brown that was once, presumably, black. Over the following eleven years the same hand recorded \
storms, shipwrecks, the arrival of supplies, and, now and then, something more personal: a \
daughter's birthday, a quarrel with the district inspector, the death of a dog named Biscuit.

Historians have long prized documents like this one. They aren't glamorous, and they rarely \
contain the kind of revelation that makes headlines, but they offer something the official \
record can't: the texture of ordinary days. When we read that the keeper "mended the east \
window again (third time this winter!)", we learn more about the building, the weather, and the \
man's temperament than any survey could tell us.

Consider, too, what the logbook leaves out. There is no mention of the war until 1916, when a \
single line notes that "young Tom Harker has gone to France." Nothing follows. Was Tom a \
neighbour, a relative, a former assistant? The silence is its own kind of evidence; it suggests \
a community in which some losses were too large, or too common, to write down.

Scientists use similar records in a different way. Because the keeper measured barometric \
pressure twice daily -- at 8 a.m. and 8 p.m. -- his numbers can be compared with modern \
reconstructions of the North Atlantic climate. Researchers at a university in Bergen digitised \
roughly 7,900 readings in 2014 and found that they agreed with the reconstructions to within \
about 1.5 hPa, except for a curious stretch in the autumn of 1913, when the keeper's barometer \
appears to have been out of calibration. (He seems to have noticed: on November 19th he wrote, \
simply, "Glass wrong. Sent for new.")

What makes a record trustworthy? Consistency matters more than precision. A thermometer that is \
always two degrees too warm is more useful than one that is sometimes right and sometimes \
wildly off, because a steady bias can be corrected. The same is true of human observers. We'd \
rather have a witness who is predictably cautious than one who is occasionally brilliant and \
occasionally careless; we can adjust for the former, but the latter leaves us guessing.

Then there's the question of preservation. Paper is surprisingly durable if it's kept dry, cool \
and dark, yet it's vulnerable to mould, insects, fire and the tidying instincts of later \
generations. Archivists estimate that only a small fraction of the logbooks kept at British and \
Irish lighthouses survive; the rest were burned, pulped, or simply lost when stations were \
automated in the 1980s and 1990s. Digital copies solve some problems and create others. File \
formats become obsolete, storage media degrade, and links rot. A scan made in 2003 may be \
unreadable today without software that nobody maintains.

So the humble logbook raises large questions. Who decides what's worth keeping? How do we \
balance access against preservation? And what will future historians make of our own records -- \
the emails, the chat logs, the photographs numbering in the billions? They'll have far more \
material than we do, but they might find it harder to hear any single voice. The keeper's \
entries are valuable partly because they're scarce; every sentence had to earn its place on \
the page.

One entry, from a calm evening in June 1920, is often quoted. "Sea like glass. Porpoises off \
the point at sunset, perhaps twenty. Mary and I watched from the gallery until the lamp wanted \
trimming. I have kept this light nine years and I'm not tired of it yet." It's an unremarkable \
sentence in most respects. Still, it tells us that he could be content, that he shared the \
moment with someone, and that the work -- repetitive, lonely, occasionally dangerous -- \
had not worn him down. Two years later the entries stop. The final line, in a different hand, \
records that the lamp was lit "by the relief keeper, Mr. A. Doyle," on the 14th of October, 1922.

We don't know why he left. Perhaps he retired; perhaps he fell ill; perhaps he was transferred \
to another station and started a new book that has since been lost. Researchers have searched \
the parish registers and the service lists without success. It's possible, even likely, that \
the answer is mundane. But the gap is a reminder that every archive is incomplete, and that \
the people who appear in it were always more than the pages they left behind.

Today the lighthouse is automated. A solar panel charges the batteries, an LED replaces the old \
paraffin lamp, and a technician visits four times a year. The keeper's cottage has become a \
holiday let, advertised online with photographs of the view and a five-star rating. Guests \
sometimes ask about the man who lived there. The owners have framed a photocopy of the June \
1920 entry and hung it by the door, where it's read by hundreds of strangers every summer -- \
which is, when you think about it, a strange and rather lovely kind of afterlife for a few \
lines written by lamplight more than a century ago.
"""

LONG_MIXED = """\
# Release notes — Tessera v0.4.2 (2025-01-15)

## Highlights 🚀
- Faster prefill: **2.3×** on 2-core x86_64 (AVX2), p50 latency 41 ms → 18 ms.
- New `/v1/chat/completions` streaming; see [docs](https://example.com/docs/api?v=0.4.2#streaming).
- Tokenizer now matches llama.cpp on 100% of 1,024 fuzz cases.

```swift
let engine = try Engine(model: "SmolLM2-135M-Instruct.Q4_1.gguf", threads: 2)
for try await token in engine.generate("Hello", maxTokens: 64) {
    print(token, terminator: "")
}
```

```json
{"model": "smollm2", "temperature": 0.0, "max_tokens": 128, "stop": ["<|im_end|>"]}
```

| Metric        | v0.4.1 | v0.4.2 |
|---------------|-------:|-------:|
| tokens/s      |  212.5 |  488.0 |
| RSS (MiB)     |    310 |    162 |

Thanks to our contributors: José Álvarez, 李雷, Ольга Петрова, محمد, and 田中さん.
多言語テスト：日本語、中文、한국어、Ελληνικά、עברית、हिन्दी、ไทย。
Known issue #1337: "don't" vs "DON'T" — we're fixing it; ETA Q2'25. Contact: dev-team@example.org
Edge cases:	tab	separated	values
Windows line endings\r\nare handled.\r\n
Price: $1,299.99 (≈ €1.199,00); ratio 3:2; temp −40 °C = −40 °F; π ≈ 3.14159265358979.
Emoji: 👩‍💻 🧑🏾‍🚀 🇫🇷 ✔️ 😀😀😀
"""

CASES = [
    # --- basics -------------------------------------------------------------------------------
    ("empty", ""),
    ("hello_world", "Hello, world!"),
    ("single_space", " "),
    ("single_newline", "\n"),
    ("single_tab", "\t"),
    ("single_char", "a"),
    ("case_variants", "hello Hello HELLO hElLo"),
    ("repeated_letters", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("repeated_symbols", "========================================"),
    # --- code -------------------------------------------------------------------------------
    ("python_code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\nprint([fibonacci(i) for i in range(10)])  # 0..34\n"),
    ("python_class", "class Stack:\n    \"\"\"A LIFO stack.\"\"\"\n\n    def __init__(self) -> None:\n        self._items: list[int] = []\n\n    def push(self, x: int) -> None:\n        self._items.append(x)\n\n    def pop(self) -> int:\n        if not self._items:\n            raise IndexError('pop from empty stack')\n        return self._items.pop()\n"),
    ("swift_code", "import Foundation\n\nstruct Point: Hashable {\n    var x: Double\n    var y: Double\n}\n\nfunc distance(_ a: Point, _ b: Point) -> Double {\n    let dx = a.x - b.x, dy = a.y - b.y\n    return (dx * dx + dy * dy).squareRoot()\n}\n\nlet ps = [Point(x: 0, y: 0), Point(x: 3, y: 4)]\nprint(\"d = \\(distance(ps[0], ps[1]))\")\n"),
    ("c_code", "#include <stdio.h>\n\nint main(int argc, char **argv) {\n\tfor (int i = 0; i < argc; ++i) {\n\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\t}\n\treturn 0;\n}\n"),
    ("js_code", "const fetchJSON = async (url) => {\n  const res = await fetch(url, { headers: { 'Accept': 'application/json' } });\n  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n  return res.json();\n};\n\nexport default fetchJSON;\n"),
    ("shell_code", "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}' >> counts.log 2>&1 || true\ndone\n"),
    ("json", "{\n  \"name\": \"tessera\",\n  \"version\": \"1.0.0\",\n  \"ok\": true,\n  \"ratio\": -0.125,\n  \"tags\": [\"llm\", \"inference\"],\n  \"nested\": {\"a\": null, \"b\": [1, 2, {\"c\": \"\\u00e9\"}]}\n}"),
    ("json_compact", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
    ("yaml", "server:\n  host: 0.0.0.0\n  port: 8080\n  workers: 2\nmodels:\n  - name: smollm2\n    path: ./models/SmolLM2-135M-Instruct.Q4_1.gguf\n    ctx: 2048\n  - name: \"gemma-3\"\n    enabled: false  # not yet\n"),
    ("html", "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Test &amp; Demo</title></head>\n<body><p class=\"x\">Hi&nbsp;there</p></body></html>"),
    ("sql", "SELECT u.id, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total >= 100.00 GROUP BY u.id HAVING n > 3 ORDER BY n DESC;"),
    ("regex", r"^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@\w+\.\w{2,}$"),
    # --- URLs, emails, identifiers --------------------------------------------------------------
    ("url", "See https://www.example.com/path/to/page.html?query=hello%20world&lang=en-US#section-2 for details."),
    ("email", "Contact John.Doe+newsletter@mail.example.co.uk or support@example.org."),
    ("identifiers", "snake_case camelCase PascalCase SCREAMING_CASE kebab-case __dunder__ x86_64 utf8 H2O CO2"),
    ("file_paths", "/usr/local/bin/swift C:\\Users\\Admin\\Documents\\report_v2.docx ~/.config/tessera.yaml ../README.md"),
    # --- numbers --------------------------------------------------------------------------------
    ("numbers_short", "0 1 7 42 99 100 123 999 1000 2025"),
    ("numbers_long", "1234 12345 123456 1234567 12345678 123456789 1234567890 12345678901234567890"),
    ("numbers_no_spaces", "abc123def4567ghi89012"),
    ("decimals", "3.14159 0.001 -2.5 +7.75 1e-10 6.022e23 .5 5. 1,000,000 1.000.000,50"),
    ("dates_times", "2024-02-29T13:45:30.123Z, 29/02/2024, 12:34:56, March 3rd 1911, Q4'23, 1st 2nd 3rd 4th"),
    ("hex_and_versions", "0x1F 0xDEADBEEF #ff00aa v1.2.3 sha256:b179c952 port=8080"),
    ("math", "E = mc² ∑ᵢ xᵢ² ≤ ∞ ∫₀¹ f(x) dx ≈ 0.5 √2 ≠ 1.41 α+β=γ ½ ¾ µ °C"),
    # --- English contractions -------------------------------------------------------------------
    ("contractions", "I'm sure you'll find it's what they've said they'd do, and we're not done; don't."),
    ("contractions_upper", "IT'S HE'S DON'T I'M YOU'LL WE'VE THEY'RE SHE'D CAN'T"),
    ("contractions_mixed", "John'S book, Mary'Ll go, it'S ok, 'tis, rock 'n' roll, o'clock, y'all'd've"),
    ("apostrophes_quotes", "'single' \"double\" ''two'' `tick` ‘curly’ “curly” it’s don’t"),
    # --- punctuation ----------------------------------------------------------------------------
    ("punctuation_runs", "Wait... what?!?! No way!!! ---- *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} ;;; ::: ,,,"),
    ("punctuation_unicode", "«Bonjour» — „Hallo“ – ¿Qué? ¡Sí! … · • † ‡ § ¶ © ® ™"),
    ("brackets_nested", "f(g(h(x[0][1]{k: v}))) <a<b<c>>> ((()))[[[]]]{{{}}}"),
    # --- whitespace -----------------------------------------------------------------------------
    ("multiple_spaces", "a  b   c    d     e      f"),
    ("tabs", "\tone\t\ttwo\t\t\tthree"),
    ("newlines_three", "para one\n\n\npara two"),
    ("newlines_many", "\n\n\n\n\n\n\n\n"),
    ("crlf", "line one\r\nline two\r\n\r\nline four\r\n"),
    ("lone_cr", "carriage\rreturn\r"),
    ("trailing_spaces", "trailing spaces   "),
    ("leading_spaces", "   leading spaces"),
    ("only_spaces", "        "),
    ("many_spaces", " " * 37),
    ("mixed_whitespace", " \t \n \r\n\t\t  \n "),
    ("space_before_newline", "end of line   \n   start of line"),
    ("unicode_spaces", "nbsp\u00a0here, ideographic\u3000space, thin\u2009space, em\u2003space, narrow\u202fnbsp"),
    ("line_separators", "line\u2028separator and paragraph\u2029separator and next\u0085line"),
    # --- scripts / languages --------------------------------------------------------------------
    ("chinese", "我们今天去北京大学参观，然后在天安门广场散步。机器学习是人工智能的一个分支。"),
    ("japanese", "東京は日本の首都です。ひらがな、カタカナ、漢字を混ぜて書きます。ｶﾀｶﾅ（半角）も。"),
    ("korean", "안녕하세요! 저는 대한민국 서울에서 왔습니다. 한국어 형태소 분석은 어렵습니다."),
    ("arabic", "مرحبا بالعالم! اللغة العربية تُكتب من اليمين إلى اليسار. ١٢٣٤٥"),
    ("hebrew", "שלום עולם! עִבְרִית עם ניקוד. הספר נכתב בשנת 2020."),
    ("hindi", "नमस्ते दुनिया! हिन्दी देवनागरी लिपि में लिखी जाती है। क्षत्रिय ज्ञान"),
    ("thai", "สวัสดีครับ ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ"),
    ("russian", "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЖ"),
    ("greek", "Γειά σου Κόσμε! Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο. ΣΊΣΥΦΟΣ"),
    ("vietnamese_nfc", "Tiếng Việt có dấu: Việt Nam, Hà Nội, người, được, phở bò."),
    ("vietnamese_nfd", "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u: ngu\u031bo\u031b\u0300i"),
    ("latin_diacritics", "naïve café résumé façade jalapeño Ångström Øresund Straße İstanbul ĳ ﬁ ǅ"),
    ("combining_marks", "e\u0301 a\u0300 o\u0308 n\u0303 Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u0337\u0311L\u0321G\u035aO\u0358"),
    ("cjk_ext_b", "𠀀𠀁𪚥𩸽 (supplementary-plane CJK)"),
    ("mixed_scripts_inline", "English中文日本語한국어Русскийعربيעבריתहिन्दीไทย"),
    # --- emoji / invisible / control ------------------------------------------------------------
    ("emoji_simple", "😀 😂 🥲 🙂 🚀 🔥 ✨ ❤️ ⭐"),
    ("emoji_zwj_family", "👨‍👩‍👧‍👦 👩‍👩‍👦 👨‍💻 🏳️‍🌈 🏴‍☠️"),
    ("emoji_flags", "🇺🇸🇯🇵🇩🇪🇫🇷🇧🇷🇮🇳 🏴󠁧󠁢󠁳󠁣󠁴󠁿"),
    ("emoji_skin_tones", "👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 👋🏿‍ 🧑🏽‍🤝‍🧑🏻"),
    ("emoji_no_spaces", "🙂🙂🙂hello🙂world🙂"),
    ("zero_width", "zero\u200bwidth\u200cnon\u200djoiner\u2060wj\ufeffbom\u00adshy"),
    ("control_chars", "bell\x07char, escape \x1b[31mred\x1b[0m, backspace\x08, vtab\x0b, formfeed\x0c, del\x7f"),
    ("c1_and_private_use", "c1\x80\x9f private\ue000\uf8ff replacement\ufffd nonchar\ufffe"),
    # --- special tokens ---------------------------------------------------------------------
    ("special_chat_turn", "<|im_start|>user\nhi<|im_end|>"),
    ("special_full_chat", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n"),
    ("special_endoftext_middle", "first document<|endoftext|>second document"),
    ("special_adjacent", "<|im_end|><|im_start|><|endoftext|><|endoftext|>"),
    ("special_with_spaces", " <|im_start|> user <|im_end|> "),
    ("special_partial", "<|im_sta"),
    ("special_partial_variants", "<|im_start| <|im_end <|endoftext|x |im_start|> <im_start> << |>"),
    ("special_spaced_wrong", "< |im_start| > <|IM_START|> <|im start|>"),
    ("special_unknown", "<|unknown|> <|assistant|> <|user|>"),
    ("special_starcoder_style", "<repo_name>tessera<file_sep>main.swift<filename>x.py<gh_stars>100<issue_start><jupyter_code><empty_output>"),
    ("special_in_code", "if s.startswith('<|im_start|>'):\n    s = s[len('<|im_start|>'):]\n"),
    # Gemma's turn markers and BOS/EOS text (plain text for SmolLM2).
    ("special_gemma_turns", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n"),
    ("special_gemma_bos_eos", "<bos>text<eos> <pad><unk><mask>[multimodal]<unused0>"),
    # --- documents ------------------------------------------------------------------------------
    ("markdown", "# Title\n\n## Sub-title\n\nSome *italic*, **bold**, ~~strike~~ and `inline code`.\n\n- item one\n- item two\n  - nested item\n1. first\n2. second\n\n> A quote\n> spanning lines\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n[link](http://x.y/z) ![img](a.png)\n\n---\n"),
    ("long_english", LONG_ENGLISH),
    ("long_mixed", LONG_MIXED),
]


# --------------------------------------------------------------------------------------------
# Minimal GGUF metadata reader (only to get tokenizer.ggml.token_type).
# --------------------------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf_kv(path, wanted):
    out = {}
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def rd_str():
            return f.read(rd("<Q"))

        def rd_val(t, keep):
            if t in _SCALARS:
                return rd(_SCALARS[t])
            if t == 8:
                return rd_str()
            if t == 9:
                et, n = rd("<I"), rd("<Q")
                if et in _SCALARS and not keep:
                    f.seek(n * struct.calcsize(_SCALARS[et]), 1)
                    return None
                if et in _SCALARS:
                    fmt = _SCALARS[et]
                    return list(struct.unpack("<%d%s" % (n, fmt[1]), f.read(n * struct.calcsize(fmt))))
                return [rd_val(et, keep) for _ in range(n)]
            raise ValueError("unknown GGUF type %d" % t)

        if f.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version, _n_tensors, n_kv = rd("<I"), rd("<Q"), rd("<Q")
        for _ in range(n_kv):
            key = rd_str().decode()
            t = rd("<I")
            v = rd_val(t, key in wanted)
            if key in wanted:
                out[key] = v
    return out


# --------------------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def piece_bytes(vocab, tok):
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, tok, buf, size, 0, True)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out")
    args = ap.parse_args()

    known = MODELS.get(os.path.basename(args.model))
    if known is None:
        sys.exit("unknown model %s (known: %s)" % (args.model, ", ".join(MODELS)))
    expected, default_out = known
    args.out = args.out or default_out
    sha = sha256_file(args.model)
    if sha != expected:
        sys.exit("model sha256 %s != expected %s" % (sha, expected))

    names = [n for n, _ in CASES]
    assert len(names) == len(set(names)), "duplicate case names"

    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    vocab = llm._model.vocab

    cases = []
    seen = set()
    for name, text in CASES:
        data = text.encode("utf-8")
        ids_special = llm.tokenize(data, add_bos=False, special=True)
        ids_plain = llm.tokenize(data, add_bos=False, special=False)
        # Round trip: the pieces must concatenate back to the input (llama.cpp's BPE is lossless).
        for ids in (ids_special, ids_plain):
            back = b"".join(piece_bytes(vocab, t) for t in ids)
            if back != data:
                print("warning: %s does not round-trip: %r" % (name, back[:80]), file=sys.stderr)
        seen.update(ids_special)
        seen.update(ids_plain)
        cases.append({"name": name, "text": text, "ids_special": ids_special, "ids_plain": ids_plain})

    def tid(s):
        """The id of a special text, or None when this vocabulary has no such token."""
        ids = llm.tokenize(s.encode(), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else None

    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    kv = read_gguf_kv(args.model, {"tokenizer.ggml.token_type", "tokenizer.ggml.pre", "tokenizer.ggml.model"})
    token_type = kv.get("tokenizer.ggml.token_type")
    non_normal = {str(i): t for i, t in enumerate(token_type or []) if t != 1}
    specials = {
        text: tid(text)
        for text in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>",
                     "<end_of_turn>", "<bos>", "<eos>"]
        if tid(text) is not None
    }
    seen.update(specials.values())
    seen.update(range(20))

    tokens = dict(specials)
    tokens.update({
        "n_vocab": n_vocab,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "eot": llama_cpp.llama_vocab_eot(vocab),
        "pad": llama_cpp.llama_vocab_pad(vocab),
        "nl": llama_cpp.llama_vocab_nl(vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "eog_ids": [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)],
        "control_ids": [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_control(vocab, i)],
        "tokenizer.ggml.model": (kv.get("tokenizer.ggml.model") or b"").decode(),
        "tokenizer.ggml.pre": (kv.get("tokenizer.ggml.pre") or b"").decode(),
        "token_type_legend": "GGUF tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user_defined, 5 unused, 6 byte",
        "token_type_first20": token_type[:20] if token_type else None,
        "token_type_not_normal": non_normal,
        "attr_legend": "llama_vocab_get_attr bits: 1 unknown, 2 unused, 4 normal, 8 control, 16 user_defined, 32 byte, 64 normalized, 128 lstrip, 256 rstrip, 512 single_word",
        "attr_first20": [llama_cpp.llama_vocab_get_attr(vocab, i) for i in range(20)],
        "bos_with_add_bos_true": llm.tokenize(b"Hi", add_bos=True, special=True),
    })

    pieces = {str(i): piece_bytes(vocab, i).hex() for i in sorted(seen)}

    out = {
        "source": "llama-cpp-python==%s (vendored llama.cpp), built from source with CMAKE_ARGS=-DGGML_NATIVE=ON; "
                  "Llama(vocab_only=True).tokenize(text.encode('utf-8'), add_bos=False, special=True|False); "
                  "pieces from llama_token_to_piece(lstrip=0, special=True), hex-encoded; "
                  "generated by scripts/gen-tokenizer-fixtures.py" % importlib.metadata.version("llama_cpp_python"),
        "model": os.path.basename(args.model),
        "model_sha256": sha,
        "tokens": tokens,
        "cases": cases,
        "pieces": pieces,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_diff = sum(1 for c in cases if c["ids_special"] != c["ids_plain"])
    print("wrote %s: %d cases (%d differ between special=True/False), %d distinct ids"
          % (args.out, len(cases), n_diff, len(pieces)), file=sys.stderr)


if __name__ == "__main__":
    main()
