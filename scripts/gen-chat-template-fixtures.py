#!/usr/bin/env python3
"""Regenerates the chat-template goldens from Python jinja2 (3.1.x).

Renders every Tests/Fixtures/chat-templates/*.jinja with a set of conversations the way Hugging
Face transformers does (ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True,
the loopcontrols extension and a `raise_exception` global) and writes cases.json; also renders
small expression snippets into expressions.json. Each case records the options it used.

Usage: python3 scripts/gen-chat-template-fixtures.py
"""
import json
import pathlib
import sys

import jinja2
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures" / "chat-templates"

HF_OPTIONS = {"trim_blocks": True, "lstrip_blocks": True}
JINJA_DEFAULT_OPTIONS = {"trim_blocks": False, "lstrip_blocks": False}


class RaisedException(TemplateError):
    pass


def raise_exception(message):
    raise RaisedException(message)


def make_environment(options):
    env = ImmutableSandboxedEnvironment(extensions=["jinja2.ext.loopcontrols"], **options)
    env.globals["raise_exception"] = raise_exception
    return env


def render(source, context, options):
    """Returns the fields a case records: expected text, or the error jinja2 raised."""
    try:
        return {"expected": make_environment(options).from_string(source).render(**context)}
    except RaisedException as error:
        return {"expected_error": True, "raised_message": str(error)}
    except (jinja2.TemplateError, TypeError, ValueError, ZeroDivisionError) as error:
        return {"expected_error": True, "error_type": type(error).__name__}


def msg(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = {
    "system+user": [msg("system", "You are terse."), msg("user", "What is 2+2?")],
    "user-only": [msg("user", "Hello!")],
    "multi-turn-with-system": [
        msg("system", "Be kind."),
        msg("user", "Hi"),
        msg("assistant", "Hello! How can I help?"),
        msg("user", "Tell me a joke."),
    ],
    "multi-turn": [
        msg("user", "First question"),
        msg("assistant", "First answer"),
        msg("user", "Second question"),
        msg("assistant", "Second answer"),
    ],
    "empty-content": [msg("user", "")],
    "unicode": [msg("user", "Héllo 👋🏽 世界 — ñ \u00a0 'quotes' \"dq\" <tag> & done")],
    "whitespace": [
        msg("user", "  leading and trailing  \n\nsecond line\n"),
        msg("assistant", "\tanswer with tab\n"),
        msg("user", "\n"),
    ],
    "no-messages": [],
}

BAD_ALTERNATION = {
    "bad-alternation-user-user": [msg("user", "one"), msg("user", "two")],
    "bad-alternation-system-assistant": [msg("system", "sys"), msg("assistant", "hi")],
}

TOKENS = {
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "gemma": ("<bos>", "<eos>"),
    "qwen2.5": ("", "<|im_end|>"),
    "smollm2": ("", "<|im_end|>"),
    "kitchen-sink": ("<s>", "</s>"),
}

QWEN_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city & date <today>",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]


def chat_cases():
    cases = []
    for template in sorted(TOKENS):
        source = (FIXTURES / f"{template}.jinja").read_text(encoding="utf-8")
        bos, eos = TOKENS[template]
        conversations = dict(CONVERSATIONS)
        if template == "gemma":
            conversations.update(BAD_ALTERNATION)
        runs = [(conversations, HF_OPTIONS, None)]
        if template == "qwen2.5":
            runs.append(({k: conversations[k] for k in ("system+user", "user-only")}, HF_OPTIONS,
                         {"tools": QWEN_TOOLS}))
        if template in ("kitchen-sink", "smollm2"):
            runs.append(({k: conversations[k] for k in ("system+user", "whitespace")},
                         JINJA_DEFAULT_OPTIONS, None))
        for convs, options, extra in runs:
            for name, messages in convs.items():
                for add_generation_prompt in (False, True):
                    context = dict(extra or {})
                    context.update(messages=messages, add_generation_prompt=add_generation_prompt,
                                   bos_token=bos, eos_token=eos)
                    case = {
                        "template": f"{template}.jinja",
                        "conversation": name,
                        "options": options,
                        "messages": messages,
                        "add_generation_prompt": add_generation_prompt,
                        "bos_token": bos,
                        "eos_token": eos,
                    }
                    if extra:
                        case["extra"] = extra
                    case.update(render(source, context, options))
                    cases.append(case)
    return cases


# Small snippets pinning down expression, filter and whitespace semantics.
SNIPPETS = [
    ("{{ 1 + 2 * 3 }}", {}), ("{{ 2 ** 3 ** 2 }}", {}), ("{{ 7 // -2 }} {{ -7 % 3 }} {{ 7 % -3 }}", {}),
    ("{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 / 3 }} {{ 4 / 2 }}", {}),
    ("{{ 1e16 }} {{ 1e15 }} {{ 9.5e15 }} {{ 1.5e-7 }} {{ 0.0001 }} {{ 123456789.125 }} {{ -0.0 }}", {}),
    ("{{ 1 / 0 }}", {}), ("{{ 'a' + 1 }}", {}), ("{{ x + 1 }}", {}), ("{{ x ~ 'a' }}", {}),
    ("{{ x.y }}", {}), ("{{ x['y'] }}", {}), ("{{ d.missing }}|{{ d.missing is defined }}", {"d": {}}),
    ("{{ d.missing.deeper }}", {"d": {}}), ("{{ 'a' in x }}{{ x | length }}{{ x | trim }}", {}),
    ("{% for a in x %}{{ a }}{% else %}empty{% endfor %}", {}),
    ("{{ [1, 'a', none, true, 1.5, [2]] }} {{ {'k': 'v', 'q': \"it's\"} }}", {}),
    ("{{ 'tab\\there' }}|{{ ['new\\nline', 'back\\\\slash'] }}", {}),
    ("{{ none | string }} {{ true | string }} {{ [] | string }}", {}),
    ("{{ 'hello world-foo (bar' | title }} {{ 'hELLO wORLD' | capitalize }}", {}),
    ("{{ ' a  b '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c d'.split(None, 2) }}", {}),
    ("{{ 'xxaxx'.strip('x') }}|{{ '\\n\\t x \\u3000'.strip() }}|{{ 'aXbXc'.replace('X', '-', 1) }}", {}),
    ("{{ 'abc'.replace('', '-') }} {{ 'abc'.find('c') }} {{ ', '.join(['a', 'b']) }}", {}),
    ("{{ 'ABC'.startswith(('x', 'A')) }} {{ 'abc'.endswith('bc') }}", {}),
    ("{% set ns = namespace(a=1) %}{% for i in [1, 2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}", {}),
    ("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% for i in [1, 2, 3] %}{% if not loop.first %}{{ prev }}{% endif %}{% set prev = i %}{% endfor %}[{{ prev }}]", {}),
    ("{% if true %}{% set y = 3 %}{% endif %}{{ y }}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"z": 1, "a": 2, "m": [3]}}),
    ("{{ [1, 2, 3][::-1] }}{{ 'abc'[1:] }}{{ [1, 2, 3][-1] }}{{ [1, 2][5] }}|{{ 'hello'[::2] }}{{ 'hello'[-3:-1] }}", {}),
    ("{{ [0, 1, 2, 3, 4, 5][5:1:-2] }} {{ 'abc'[10:] }}|{{ [1, 2, 3][:-1] }}", {}),
    ("{{ 'a' 'b' }} {{ 'it\\'s' }} {{ \"say \\\"hi\\\"\" }} {{ '\\u00e9\\x41' }}", {}),
    ("{{ foo(1) }}", {}), ("{{ 1 | nosuch }}", {}), ("{% foo %}", {}), ("{{ 1 + }}", {}),
    ("{% if x %}", {}), ("{{ (1 }}", {}), ("{{ 1 ] }}", {}), ("{# unclosed", {}),
    ("{% for x in y %}{% endif %}", {}), ("{{ 'unterminated }}", {}),
    ("a\n  {% if true %}\n  b\n  {% endif %}\n c {# hi #}\n  {#x#}\nd\n", {}),
    ("  {%+ if true %}x{% endif +%}\n  y", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("{{- ' x ' -}}\n  {{ 'y' }}  \n {{- 'z' }}", {}),
    ("line\n    {{ 'var' }}\n    {% if true %}blk{% endif %}\n", {}),
    ("{% raw %}  {{ raw }} {% endraw %}|{%- raw -%}  keep  {%- endraw -%}|", {}),
    ("{{ [3, 1] | tojson }}{{ {'b': 1, 'a': '<é😀\\'>'} | tojson }}", {}),
    ("{{ {'a': [1, {'c': none}], 'e': {}, 'f': []} | tojson(indent=2) }}", {}),
    ("{{ 1.0 | tojson }} {{ 'line\\nbreak\\u0001' | tojson }} {{ d | tojson }}", {"d": {"x": 1.5, "y": True}}),
    ("{{ x | tojson }}", {}),
    ("{{ '3' | int + 1 }} {{ ' 42 ' | int }} {{ '4.7' | int }} {{ 'z' | int }} {{ 'z' | int(7) }} {{ 2.9 | int }} {{ true | int }}", {}),
    ("{{ '1.5' | float }} {{ 3 | float }} {{ 'x' | float }}", {}),
    ("{{ x | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }} {{ x | d }}", {}),
    ("{{ [1, 2] | join }} {{ ['a', none] | join(', ') }} {{ users | join(', ', attribute='name') }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("{{ [] | first }}|{{ 'abc' | last }}|{{ {'k': 1, 'j': 2} | first }}", {}),
    ("{{ 'abc' | list }} {{ {'a': 1} | list }} {{ 'a<b>&\"c\\'' | e }} {{ '<b>' | safe }}", {}),
    ("{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}{{ v }}{% endfor %}{{ x | items | list }}", {}),
    ("{{ ['a', 'b'] | reverse | list }} {{ 'abc' | reverse }} {{ -2.5 | abs }}", {}),
    ("{{ 'first\\nsecond\\n\\nthird' | indent(2) }}|{{ 'a\\nb' | indent('> ', true) }}|{{ 'a\\n\\nb' | indent(blank=true) }}", {}),
    ("{{ users | map(attribute='name') | list }} {{ ['a', 'b'] | map('upper') | join }} {{ users | selectattr('admin') | map(attribute='name') | list }}", {"users": [{"name": "x", "admin": True}, {"name": "y"}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('divisibleby', 2) | list }} {{ users | rejectattr('admin', 'defined') | list | length }}", {"users": [{"name": "x", "admin": True}, {"name": "y"}]}),
    ("{{ 1 is number }} {{ true is boolean }} {{ 1 is integer }} {{ 1.0 is float }} {{ 'a' is lower }} {{ 'A1' is upper }} {{ x is iterable }} {{ x is sequence }} {{ none is sameas none }}", {}),
    ("{{ 3 is gt 2 }} {{ 3 is lt(2) }} {{ 2 is in [1, 2] }} {{ 2 is eq 2.0 }} {{ 'x' is ne 'y' }} {{ {} is mapping }} {{ [] is mapping }}", {}),
    ("{{ 1 if true }} {{ 1 if false }}| {{ 'a' if x is defined else 'b' }}", {}),
    ("{{ true and 1 }} {{ 0 and 1 }} {{ '' or 'z' }} {{ not 0 }} {{ not (1 and 0) }} {{ x or 'x-undef' }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' > 'a' }} {{ [1, 2] < [1, 3] }} {{ none == none }} {{ 1 == true }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ range(3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}", {}),
    ("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for i in [1, 2, 3, 4] if i is even %}{{ loop.index }}/{{ loop.length }}:{{ i }} {% endfor %}", {}),
    ("{% for i in 'ab' %}{{ loop.revindex0 }}{{ loop.previtem is defined }}{{ loop.nextitem | default('-') }}{{ loop.cycle('x', 'y') }} {% endfor %}", {}),
    ("{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=3) }}{{ m('x', 'y') }}", {}),
    ("{% set a, b = [1, 2] %}{{ b }}{{ a }}{% set t = 1, 2 %}{{ t | length }}", {}),
    ("{% with x = 1 %}{{ x }}{% endwith %}{{ x is defined }}", {}),
    ("{% set s %}  block {{ 1 }}  {% endset %}[{{ s }}]", {}),
    ("{{ 'x' * 3 }}{{ [0] * 2 }}{{ 3 * 'y' }}{{ [1] + [2] }}{{ -'a' if false else -(3) }}", {}),
    ("{{ d.get('a') }} {{ d.get('b', 'dflt') }} {{ d.get('b') }} {{ d.keys() | list }} {{ d.values() | list }}", {"d": {"a": 1}}),
    ("{{ message.content.strip() }}|{{ message['role'].upper() }}", {"message": {"role": "user", "content": "  hi  "}}),
    ("{{ ns }}", {}), ("{% set ns = namespace(a=1, b='x') %}{{ ns }}", {}),
    ("{% set x = 5 %}{% for i in [1, 2, 3] %}{{ x }}{% if i == 2 %}{% set x = 9 %}{% endif %}{% endfor %}[{{ x }}]", {}),
    ("{{ [1, 2].append(3) }}", {}),
    ("{{ raise_exception('custom failure') }}", {}),
    ("{% if true %}yes{% elif false %}no{% else %}never{% endif %}{% if 0 %}a{% elif 1 %}b{% endif %}", {}),
    ("{{ -1 | abs }} {{ -x | default(3) if false else 0 }} {{ (1, 2) | length }}", {}),
    ("{{ 9223372036854775807 + 1 }}", {}),
]


def expression_cases():
    cases = []
    for options in (HF_OPTIONS, JINJA_DEFAULT_OPTIONS):
        for source, context in SNIPPETS:
            case = {"source": source, "context": context, "options": options}
            case.update(render(source, context, options))
            cases.append(case)
    return cases


def write(name, cases):
    path = FIXTURES / name
    path.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {path.relative_to(ROOT)}")


def main():
    if not jinja2.__version__.startswith("3.1."):
        print(f"warning: goldens were made with jinja2 3.1.x, this is {jinja2.__version__}",
              file=sys.stderr)
    write("cases.json", chat_cases())
    write("expressions.json", expression_cases())


if __name__ == "__main__":
    main()
