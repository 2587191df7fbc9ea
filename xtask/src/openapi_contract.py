# Every exchange a client had with a stand-in, validated against the service's document with openapi-core: the
# request against the operation's parameters, security and body, the answer against its declared status, headers and
# schema. Answers the stand-in marks as outside the document (an injected fault, an unknown path) are checked as
# requests only. Reads JSON lines on stdin (the stand-ins' `Exchange`).
#
# Arguments: the document (JSON or YAML), the service's origin (`https://api.supabase.com`), its name for messages.
# Documents are used without openapi-core's validation of the document itself: Supabase's published one gives the
# boolean `force` of DELETE /v1/branches/{ref} the string default "true", which the document validator refuses.
# Exchanges are validated against them all the same.
import json, sys
from urllib.parse import parse_qs
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
import yaml

path, origin, name = sys.argv[1], sys.argv[2], sys.argv[3]
document = json.load(open(path)) if path.endswith(".json") else yaml.safe_load(open(path))
spec = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
failures, requests, answers, operations = [], 0, 0, set()
for n, line in enumerate(sys.stdin, 1):
    line = line.strip()
    if not line:
        continue
    x = json.loads(line)
    headers = dict(x["headers"])
    if headers.get("authorization"):
        headers["authorization"] = headers["authorization"] + " redacted-token"
    body = json.dumps(x["body"]).encode() if x["body"] is not None else None
    args = {k: v[0] for k, v in parse_qs(x["query"]).items()}
    req = MockRequest(origin, x["method"].lower(), x["path"], args=args, headers=headers,
                      data=body, content_type=headers.get("content-type", "application/json"))
    what = f'line {n}: {x["method"]} {x["path"]}?{x["query"]} -> {x["status"]}'
    try:
        spec.validate_request(req)
        requests += 1
    except Exception as e:
        failures.append(f"{what}: request: {e} ({getattr(e, '__cause__', None)})")
        continue
    if x["fault"]:
        continue
    data = json.dumps(x["response"]).encode() if x["response"] is not None else b""
    resp = MockResponse(data, status_code=x["status"], headers=x["response_headers"],
                        content_type="application/json" if data else None)
    try:
        spec.validate_response(req, resp)
        answers += 1
        operations.add(f'{x["method"]} {x["path"].split("/")[2]}')
    except Exception as e:
        failures.append(f"{what}: answer: {e} ({getattr(e, '__cause__', None)})")
for f in failures:
    print(f)
print(f"{requests} requests and {answers} answers conform to {name}'s document; {len(failures)} failures")
sys.exit(1 if failures or requests == 0 else 0)
