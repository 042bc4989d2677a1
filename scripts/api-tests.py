#!/usr/bin/env python3
"""The router against the official OpenAI Python client (run by scripts/api-tests).

    api-tests.py --base-url http://127.0.0.1:PORT/v1 --model ID

Every check asserts behaviour a client relies on; the script exits non-zero on the first
failure, printing what differed.
"""
import argparse
import json
import sys
import unittest
import urllib.error
import urllib.request

import openai

ARGS = None


def client():
    return openai.OpenAI(base_url=ARGS.base_url, api_key="unused", max_retries=0, timeout=300)


class OpenAIClientTests(unittest.TestCase):
    def chat(self, **kwargs):
        base = dict(model=ARGS.model, messages=[{"role": "user", "content": "Name three colors."}],
                    max_tokens=24, temperature=0.7, seed=11)
        base.update(kwargs)
        return client().chat.completions.create(**base)

    def test_models(self):
        models = client().models.list()
        self.assertEqual([m.id for m in models.data], [ARGS.model])

    def test_chat_and_usage(self):
        reply = self.chat()
        self.assertEqual(reply.object, "chat.completion")
        self.assertTrue(reply.choices[0].message.content)
        self.assertIn(reply.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(reply.usage.total_tokens,
                         reply.usage.prompt_tokens + reply.usage.completion_tokens)

    def test_streaming_chat_equals_plain(self):
        plain = self.chat().choices[0].message.content
        chunks = list(self.chat(stream=True, stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, plain)
        self.assertIsNotNone(chunks[-1].usage)

    def test_streaming_completion_equals_plain(self):
        args = dict(model=ARGS.model, prompt="The capital of France is", max_tokens=12,
                    temperature=0)
        plain = client().completions.create(**args).choices[0].text
        streamed = "".join(c.choices[0].text for c in client().completions.create(stream=True, **args)
                           if c.choices)
        self.assertEqual(streamed, plain)

    def test_seed_reproduces_and_n_choices(self):
        first = self.chat(n=2, temperature=1.0, seed=5)
        second = self.chat(n=2, temperature=1.0, seed=5)
        texts = [c.message.content for c in sorted(first.choices, key=lambda c: c.index)]
        again = [c.message.content for c in sorted(second.choices, key=lambda c: c.index)]
        self.assertEqual(texts, again)
        self.assertEqual(len(texts), 2)

    def test_stop_sequence(self):
        args = dict(model=ARGS.model, prompt="The capital of France is", max_tokens=12,
                    temperature=0)
        full = client().completions.create(**args).choices[0].text
        self.assertIn("United", full)
        stopped = client().completions.create(stop=["United"], **args).choices[0]
        self.assertEqual(stopped.text, full[:full.index("United")])
        self.assertEqual(stopped.finish_reason, "stop")

    def test_chat_logprobs(self):
        reply = self.chat(max_tokens=4, temperature=0, logprobs=True, top_logprobs=3)
        content = reply.choices[0].logprobs.content
        self.assertEqual(len(content), 4)
        self.assertEqual(len(content[0].top_logprobs), 3)
        self.assertLessEqual(content[0].logprob, 0)

    def test_completion_logprobs(self):
        choice = client().completions.create(model=ARGS.model, prompt="Hello", max_tokens=4,
                                             temperature=0, logprobs=2).choices[0]
        self.assertEqual(len(choice.logprobs.tokens), 4)
        self.assertEqual(len(choice.logprobs.token_logprobs), 4)
        self.assertEqual(choice.logprobs.text_offset[0], 0)

    def test_request_state_and_a_resumed_stream(self):
        args = dict(model=ARGS.model, prompt="The three primary colors are", max_tokens=24,
                    temperature=0.7, seed=5)
        chunks = list(client().completions.create(stream=True, **args))
        streamed = "".join(c.choices[0].text for c in chunks if c.choices)
        request_id = chunks[0].id
        root = ARGS.base_url
        with urllib.request.urlopen(f"{root}/requests/{request_id}", timeout=60) as response:
            state = json.load(response)
        self.assertEqual(state["id"], request_id)
        self.assertEqual(state["status"], "finished")
        self.assertEqual(state["text"], streamed)
        self.assertEqual(state["usage"]["completion_tokens"], len(state["tokens"]))
        # Events 0..2 are the first three chunks; the rest comes again after Last-Event-ID 2.
        resume = urllib.request.Request(f"{root}/requests/{request_id}/stream",
                                        headers={"Last-Event-ID": "2"})
        with urllib.request.urlopen(resume, timeout=60) as response:
            body = response.read().decode()
        events = [block for block in body.split("\n\n") if block.strip()]
        self.assertTrue(events[0].startswith("id: 3\n"), events[0])
        self.assertEqual(events[-1].split("\n")[-1], "data: [DONE]")
        rest = "".join(
            choice["text"]
            for block in events[:-1]
            for choice in json.loads(block.split("data: ", 1)[1])["choices"])
        first = "".join(c.choices[0].text for c in chunks[:3] if c.choices)
        self.assertEqual(first + rest, streamed)
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"{root}/requests/cmpl-0000000000000000", timeout=60)
        self.assertEqual(raised.exception.code, 404)

    def test_errors(self):
        with self.assertRaises(openai.NotFoundError):
            self.chat(model="no-such-model")
        with self.assertRaises(openai.BadRequestError) as raised:
            self.chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
        self.assertEqual(raised.exception.code, "unsupported_parameter")
        with self.assertRaises(openai.BadRequestError):
            self.chat(temperature=7)
        with self.assertRaises(openai.BadRequestError) as raised:
            client().completions.create(model=ARGS.model, prompt="word " * 9000, max_tokens=4)
        self.assertEqual(raised.exception.code, "context_length_exceeded")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    ARGS, rest = parser.parse_known_args()
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
