"""Drives firegrid's /open311/v2 with `georeport` (PyPI), an Open311 GeoReport v2 client
library, for tests/open311_client.rs. The library lists services and reads requests; it cannot
post (its README says so), so the request is posted as the plain form GeoReport v2 describes,
with `requests`, the library's own HTTP client.

    georeport_client.py post BASE API_KEY REGION_ID   lists, posts, reads back; prints the id
    georeport_client.py read BASE ID                  prints the request as the library reads it

Exits non-zero with a message on any mismatch.
"""

import json
import sys

try:
    import requests
    from georeport import GeoReport
except ImportError as e:  # the suite must not pass without the library
    sys.exit(f"the georeport client library is missing ({e}): pip install georeport==0.3.1")

JURISDICTION = "630106"


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


def post(base, api_key, region_id):
    client = GeoReport(f"{base}/open311/v2", jurisdiction=JURISDICTION, api_key=api_key)
    services = client.get_service_list()
    codes = {s["service_code"]: s["service_name"] for s in services}
    check(codes.get("electrical") == "电气线路", f"services: {codes}")
    check(len(codes) == 8, f"8 services: {codes}")
    definition = client.get_service_definition("open_flame")
    check(definition["attributes"][0]["code"] == "region_id", f"definition: {definition}")

    form = {
        "api_key": api_key,
        "jurisdiction_id": JURISDICTION,
        "service_code": "open_flame",
        "attribute[region_id]": str(region_id),
        "description": "村口草垛旁有人烧荒，风很大",
        "lat": "36.52",
        "long": "101.62",
        "first_name": "建国",
        "last_name": "李",
        "phone": "13909710009",
    }
    answer = requests.post(f"{base}/open311/v2/requests.json", data=form, timeout=30)
    check(answer.status_code == 201, f"POST: {answer.status_code} {answer.text}")
    request_id = answer.json()[0]["service_request_id"]

    one = client.get_service_request(request_id)
    check(one["service_request_id"] == request_id, f"read back: {one}")
    check(one["status"] == "open" and one["service_code"] == "open_flame", f"read back: {one}")
    check("13909710009" not in json.dumps(one, ensure_ascii=False), f"phone shown: {one}")
    listed = client.get_service_requests(service_code="open_flame", status="open")
    check([r["service_request_id"] for r in listed] == [request_id], f"list: {listed}")
    by_id = client.get_service_requests(service_request_id=request_id)
    check(len(by_id) == 1, f"by id: {by_id}")
    print(request_id)


def read(base, request_id):
    client = GeoReport(f"{base}/open311/v2", jurisdiction=JURISDICTION)
    print(json.dumps(client.get_service_request(request_id), ensure_ascii=False))


if __name__ == "__main__":
    mode, base = sys.argv[1], sys.argv[2]
    if mode == "post":
        post(base, sys.argv[3], int(sys.argv[4]))
    elif mode == "read":
        read(base, sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")
