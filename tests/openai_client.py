"""Lode's /v1 surface through the official OpenAI Python client (PyPI `openai`).

Usage: python3 tests/openai_client.py BASE_URL API_KEY
Prints a readable transcript, then one JSON line (prefixed `RESULT `) that
tests/chat.rs checks.
"""

import json
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=0, timeout=120)
print(f"openai {__import__('openai').__version__} -> {client.base_url}")

models = [m.id for m in client.models.list()]
print("models.list():", models)

stream = client.chat.completions.create(
    model="lode-rag",
    messages=[{"role": "user", "content": "What keeps an aircraft up?"}],
    stream=True,
    stream_options={"include_usage": True},
)
pieces, usage, finish = [], None, None
for chunk in stream:
    if chunk.choices:
        if chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        finish = chunk.choices[0].finish_reason or finish
    if chunk.usage:
        usage = chunk.usage
print("chat.completions.create(model='lode-rag', stream=True):", repr("".join(pieces)),
      f"in {len(pieces)} chunks, finish_reason={finish}, usage={usage.prompt_tokens}+{usage.completion_tokens}")

proxied = client.chat.completions.create(
    model="local",
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}],
)
print("chat.completions.create(model='local'):", repr(proxied.choices[0].message.content),
      f"usage={proxied.usage.total_tokens}")

emb = client.embeddings.create(model="all-MiniLM-L6-v2", input=["the wing lifts the plane", "sourdough bread"])
print("embeddings.create():", len(emb.data), "vectors of", len(emb.data[0].embedding),
      f"dimensions, usage={emb.usage.prompt_tokens} tokens")

# Errors arrive as the client's own exception classes, with OpenAI's codes.
errors = {}
for name, call in [
    ("unknown_model", lambda: client.chat.completions.create(
        model="no-such-model", messages=[{"role": "user", "content": "x"}])),
    ("empty_messages", lambda: client.chat.completions.create(model="lode-rag", messages=[])),
    ("bad_key", lambda: OpenAI(base_url=sys.argv[1] + "/v1", api_key="lode_wrong", max_retries=0)
        .models.list()),
]:
    try:
        call()
        errors[name] = None
    except openai.APIStatusError as e:
        errors[name] = [type(e).__name__, e.status_code, e.code]
print("errors:", errors)

print("RESULT " + json.dumps({
    "errors": errors,
    "models": models,
    "stream_text": "".join(pieces),
    "stream_chunks": len(pieces),
    "finish_reason": finish,
    "stream_usage": [usage.prompt_tokens, usage.completion_tokens],
    "proxied": proxied.choices[0].message.content,
    "proxied_usage": proxied.usage.total_tokens,
    "embeddings": [len(emb.data), len(emb.data[0].embedding), emb.usage.prompt_tokens],
    "norm": sum(x * x for x in emb.data[0].embedding),
}))
