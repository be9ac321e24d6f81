#!/usr/bin/env python3
"""A steady stream of hazard reports through nginx, for deploy/loopback-test.sh.

Each report gets its own Idempotency-Key and is sent until the server answers it: a failure
(connection refused or reset, 502/503/504, a timeout) is retried with the same key and body,
so a report the server recorded before the failure is answered from its record, not recorded
twice. Runs until STOP_FILE exists, then prints a JSON summary on stdout.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

RETRYABLE = {502, 503, 504}


def call(url, ctx, method, path, body=None, token=None, key=None, timeout=15):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    if key:
        req.add_header("idempotency-key", key)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")[:200]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--group", type=int, required=True)
    p.add_argument("--run", required=True, help="a tag in every title")
    p.add_argument("--stop-file", required=True)
    p.add_argument("--threads", type=int, default=3)
    p.add_argument("--pause", type=float, default=0.02)
    p.add_argument("--give-up-after", type=float, default=60.0)
    a = p.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    status, body = call(a.url, ctx, "POST", "/api/v1/auth/login",
                        {"username": a.username, "password": a.password})
    if status != 200:
        print(f"login failed: {status} {body}", file=sys.stderr)
        sys.exit(2)
    token = body["access_token"]

    lock = threading.Lock()
    summary = {"reports": 0, "recorded": 0, "failed": 0, "retries": 0,
               "replayed": 0, "errors": {}, "case_ids": []}
    failures = []

    def note(kind):
        summary["errors"][kind] = summary["errors"].get(kind, 0) + 1

    def worker(w):
        n = 0
        while not os.path.exists(a.stop_file):
            n += 1
            key = str(uuid.uuid4())
            title = f"loopback-{a.run}-{w}-{n}"
            body = {"group_id": a.group, "category": "electrical", "severity": "general",
                    "title": title, "description": "负载测试：私拉乱接电线",
                    "source": "patrol"}
            started = time.monotonic()
            attempts = 0
            while True:
                attempts += 1
                try:
                    status, resp = call(a.url, ctx, "POST", "/api/v1/hazards", body, token, key)
                except Exception as e:  # connection refused/reset, TLS, timeout
                    status, resp = None, f"{type(e).__name__}: {e}"
                if status in (200, 201):
                    with lock:
                        summary["reports"] += 1
                        summary["recorded"] += 1
                        summary["retries"] += attempts - 1
                        if attempts > 1:
                            summary["replayed"] += 1
                        summary["case_ids"].append(resp["id"])
                    break
                with lock:
                    note(str(status) if status else resp.split(":")[0])
                retryable = status is None or status in RETRYABLE or status == 409
                if not retryable or time.monotonic() - started > a.give_up_after:
                    with lock:
                        summary["reports"] += 1
                        summary["failed"] += 1
                        failures.append({"title": title, "status": status, "body": resp})
                    break
                time.sleep(min(0.1 * attempts, 1.0))
            time.sleep(a.pause)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary["distinct_case_ids"] = len(set(summary["case_ids"]))
    del summary["case_ids"]
    summary["failures"] = failures[:10]
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
