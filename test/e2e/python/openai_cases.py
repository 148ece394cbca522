"""One case of the Python `openai` SDK against the router, printed as JSON.

Run by test/e2e/openai-python.test.ts: `python openai_cases.py <case>` with TG_URL and
TG_KEY set. It reports what the SDK gave back (its types, its errors, the router's
headers); the test asserts on them.
"""

import json
import os
import sys

import openai

URL = os.environ["TG_URL"] + "/v1"
KEY = os.environ["TG_KEY"]
PROMPT = os.environ.get("TG_PROMPT", "Say hi")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def client():
    return openai.OpenAI(base_url=URL, api_key=KEY, max_retries=0)


def response(answer, headers=None):
    result = {
        "class": type(answer).__name__,
        "id": answer.id,
        "status": answer.status,
        "output_text": answer.output_text,
        "output": [item.type for item in answer.output],
        "output_tokens": answer.usage.output_tokens if answer.usage else None,
    }
    if headers is not None:
        result["cache"] = headers.get("x-tiergate-cache")
        result["hash"] = headers.get("x-constitutional-hash")
    return result


def create():
    raw = client().responses.with_raw_response.create(model="auto", input=PROMPT, instructions="Be brief.")
    return response(raw.parse(), raw.headers)


def stream():
    with client().responses.stream(model="auto", input=PROMPT) as events:
        kinds = [event.type for event in events]
        return {**response(events.get_final_response()), "events": kinds}


def tool_round_trip():
    api = client()
    first = api.responses.create(model="auto", input=f"{PROMPT}: what is the weather in Paris?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    second = api.responses.create(
        model="auto",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"forecast": "sunny"})}],
        tools=[WEATHER],
    )
    return {"call": {"name": call.name, "arguments": json.loads(call.arguments)}, "first": response(first), "second": response(second)}


def json_schema():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    answer = client().responses.create(
        model="auto",
        input=PROMPT,
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    return {**response(answer), "parsed": json.loads(answer.output_text)}


def stored():
    api = client()
    first = api.responses.create(model="auto", input=PROMPT)
    second = api.responses.create(model="auto", input="And again?", previous_response_id=first.id)
    fetched = api.responses.retrieve(second.id)
    items = api.responses.input_items.list(second.id)
    api.responses.delete(second.id)
    try:
        api.responses.retrieve(second.id)
        after = None
    except openai.NotFoundError as e:
        after = {"class": type(e).__name__, "status": e.status_code}
    return {
        "second": response(second),
        "fetched": fetched.id == second.id and fetched.output_text == second.output_text,
        "input_items": len(items.data),
        "after_delete": after,
    }


def embeddings():
    api = client()
    floats = api.embeddings.create(model="text-embedding-3-small", input=[PROMPT, "second"], encoding_format="float")
    raw = api.embeddings.with_raw_response.create(model="text-embedding-3-small", input=[PROMPT, "second"], encoding_format="base64")
    b64 = raw.parse()
    return {
        "float": {"count": len(floats.data), "length": len(floats.data[0].embedding), "first": floats.data[0].embedding[:4], "tokens": floats.usage.prompt_tokens},
        "base64": {"kind": type(b64.data[0].embedding).__name__, "embedding": b64.data[0].embedding, "cache": raw.headers.get("x-tiergate-cache")},
    }


def bad_embedding():
    try:
        client().embeddings.create(model="auto", input="x", dimensions=99999)
    except openai.APIStatusError as e:
        return {"class": type(e).__name__, "status": e.status_code, "body": e.body}
    return {"class": None}


CASES = {name: fn for name, fn in globals().items() if callable(fn) and not name.startswith("_") and name not in ("client", "response")}

if __name__ == "__main__":
    print(json.dumps(CASES[sys.argv[1]]()))
