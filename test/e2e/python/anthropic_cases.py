"""One case of the Python `anthropic` SDK against the router, printed as JSON.

Run by test/e2e/anthropic-python.test.ts: `python anthropic_cases.py <case>` with
TG_URL and TG_KEY set. It reports what the SDK gave back (its types, its errors,
the router's headers); the test asserts on them.
"""

import json
import os
import sys

import anthropic

URL = os.environ["TG_URL"]
KEY = os.environ["TG_KEY"]
PROMPT = os.environ.get("TG_PROMPT", "Say hi")
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}


def client(**options):
    return anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0, **options)


def message(answer, headers):
    return {
        "type": answer.type,
        "class": type(answer).__name__,
        "content": [block.model_dump(exclude_none=True) for block in answer.content],
        "stop_reason": answer.stop_reason,
        "output_tokens": answer.usage.output_tokens,
        "cache": headers.get("x-tiergate-cache"),
        "hash": headers.get("x-constitutional-hash"),
    }


def create(**params):
    raw = client().messages.with_raw_response.create(**params)
    return message(raw.parse(), raw.headers)


def stream(**params):
    with client().messages.stream(**params) as events:
        kinds = [event.type for event in events]
        answer = events.get_final_message()
        return {**message(answer, events.response.headers), "events": kinds}


def error(call):
    try:
        call()
    except anthropic.APIStatusError as e:
        return {"class": type(e).__name__, "status": e.status_code, "body": e.body, "retry_after": e.response.headers.get("retry-after")}
    except anthropic.APIError as e:
        return {"class": type(e).__name__, "message": str(e)}
    return {"class": None}


def text(ask):
    params = {"model": "auto", "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
    return [ask(**params), ask(**params)]


def tools(ask):
    question = {"role": "user", "content": f"{PROMPT} What is the weather in Oslo?"}
    first = ask(model="tier:3", max_tokens=200, tools=[WEATHER], messages=[question])
    use = next(block for block in first["content"] if block["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "Sunny, 20 °C"}
    history = [question, {"role": "assistant", "content": first["content"]}, {"role": "user", "content": [result]}]
    second = ask(model="tier:3", max_tokens=200, tools=[WEATHER], messages=history)
    return [first, second]


CASES = {
    "create": lambda: text(create),
    "stream": lambda: text(stream),
    "tools": lambda: tools(create),
    "tools-stream": lambda: tools(stream),
    "count_tokens": lambda: client().messages.count_tokens(model="auto", messages=[{"role": "user", "content": PROMPT}]).model_dump(),
    "bad-key": lambda: error(lambda: anthropic.Anthropic(base_url=URL, api_key="tg-not-a-key-0123456789", max_retries=0).messages.create(
        model="auto", max_tokens=16, messages=[{"role": "user", "content": "hi"}])),
    "bad-body": lambda: error(lambda: client().messages.create(
        model="auto", max_tokens=16, messages=[{"role": "user", "content": "search"}],
        tools=[{"type": "web_search_20250305", "name": "web_search"}])),
    "limited": lambda: [error(lambda: create(model="auto", max_tokens=16, messages=[{"role": "user", "content": f"{PROMPT} {i}"}])) for i in range(2)],
    "broken-stream": lambda: error(lambda: stream(model="auto", max_tokens=64, messages=[{"role": "user", "content": PROMPT}])),
}

if __name__ == "__main__":
    print(json.dumps(CASES[sys.argv[1]]()))
