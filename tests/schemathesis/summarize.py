"""Summarise a schemathesis run from its JUnit and NDJSON reports (standard library only).

Prints the status codes the server answered with, every 5xx in full, and a closing line
`schemathesis: N passed, N failed, N skipped` counting API operations (and the stateful
scenario suite): failed are those with a failure or error. Exits 1 when the server answered
any request with a 5xx or an operation was skipped, 0 otherwise.
"""

import collections
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def one(pattern: str) -> str | None:
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def main(report_dir: str) -> int:
    statuses: collections.Counter[int | None] = collections.Counter()
    server_errors = []
    ndjson = one(os.path.join(report_dir, "ndjson-*.ndjson"))
    if ndjson:
        with open(ndjson, encoding="utf-8") as events:
            for line in events:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                for interaction in (finished.get("recorder") or {}).get("interactions", {}).values():
                    response = interaction.get("response") or {}
                    status = response.get("status_code")
                    statuses[status] += 1
                    if isinstance(status, int) and status >= 500:
                        request = interaction.get("request") or {}
                        server_errors.append(f"{status} {request.get('method')} {request.get('uri')}")
    requests = sum(statuses.values())
    histogram = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    print(f"requests: {requests} ({histogram})")
    for error in server_errors:
        print(f"SERVER ERROR {error}")

    passed = failed = skipped = 0
    junit = one(os.path.join(report_dir, "junit-*.xml"))
    if junit:
        suites = ET.parse(junit).getroot()
        tests = int(suites.get("tests", 0))
        failed = int(suites.get("failures", 0)) + int(suites.get("errors", 0))
        skipped = int(suites.get("skipped", 0))
        passed = tests - failed - skipped
    else:
        print("no JUnit report: schemathesis did not finish")
        failed = 1
    if server_errors and failed == 0:
        failed, passed = 1, max(passed - 1, 0)
    print(f"schemathesis: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if server_errors or skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
