"""Runs INSIDE the Open WebUI container (`python3 -c`, stdlib only): install the n8n pipe and set it up.

Reads one JSON object on stdin (it carries the admin password and the agent's password, so it never
travels in argv): {"base", "email", "password", "function": {id, name, content, meta}, "valves"}.
Prints one JSON line with what it did; on failure one line on stderr and exit status 1 (bad login: 3).
Endpoints at Open WebUI v0.12.4: routers/auths.py:663 (signin), routers/functions.py:207 (create),
:275 (get), :293 (toggle), :384 (update), :527 (valves/update).
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def call(base: str, method: str, path: str, body: object = None, token: str = "") -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None


def detail(answer: object) -> str:
    return str(answer.get("detail", answer) if isinstance(answer, dict) else answer)[:300]


def main() -> int:
    job = json.load(sys.stdin)
    base, function = job["base"], job["function"]
    status, answer = call(base, "POST", "/api/v1/auths/signin", {"email": job["email"], "password": job["password"]})
    if status != 200 or not isinstance(answer, dict) or "token" not in answer:
        print(f"Open WebUI refused the admin login from .env (HTTP {status}: {detail(answer)})", file=sys.stderr)
        return 3
    token = str(answer["token"])
    if answer.get("role") != "admin":
        print(f"the account {job['email']} is not an Open WebUI admin (role {answer.get('role')})", file=sys.stderr)
        return 3
    done = {"created": False, "updated": False, "activated": False}
    path = f"/api/v1/functions/id/{function['id']}"
    status, current = call(base, "GET", path, token=token)
    if status != 200:
        status, current = call(base, "POST", "/api/v1/functions/create", function, token)
        if status != 200:
            print(f"Open WebUI refused to create the function (HTTP {status}: {detail(current)})", file=sys.stderr)
            return 1
        done["created"] = True
    elif not isinstance(current, dict) or current.get("content") != function["content"] or \
            current.get("name") != function["name"]:
        status, current = call(base, "POST", f"{path}/update", function, token)
        if status != 200:
            print(f"Open WebUI refused to update the function (HTTP {status}: {detail(current)})", file=sys.stderr)
            return 1
        done["updated"] = True
    if not (isinstance(current, dict) and current.get("is_active")):
        status, current = call(base, "POST", f"{path}/toggle", None, token)
        if status != 200 or not (isinstance(current, dict) and current.get("is_active")):
            print(f"Open WebUI did not switch the function on (HTTP {status}: {detail(current)})", file=sys.stderr)
            return 1
        done["activated"] = True
    status, answer = call(base, "POST", f"{path}/valves/update", job["valves"], token)
    if status != 200:
        print(f"Open WebUI refused the function's valves (HTTP {status}: {detail(answer)})", file=sys.stderr)
        return 1
    print(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
