"""Recording stand-ins for `docker`, `aws` and `make`, for running buildspec.yml's commands here.

Invoked as `buildspec_standin.py TOOL ARGS...` by small wrappers on PATH. Each call is appended to
$FAKE_RECORD as one JSON line. Behaviour: FAKE_REPO_EXISTS=0 makes `aws ecr describe-repositories`
fail as for a missing repository; FAKE_FAIL="docker build" (any prefix of `TOOL ARGS`) makes that
call fail. Calls that the real CLIs would reject or that the buildspec has no business making
(`aws ecr get-login`, `docker login` without a password on stdin) exit non-zero.
"""

from __future__ import annotations

import json
import os
import sys

ACCOUNT = "123456789012"
TOKEN = "fake-ecr-token"


def aws(argv: list[str]) -> int:
    match argv[:2]:
        case ["sts", "get-caller-identity"]:
            text = "--output" in argv and argv[argv.index("--output") + 1] == "text"
            print(ACCOUNT if text and "Account" in argv else json.dumps({"Account": ACCOUNT}))
        case ["ecr", "get-login-password"]:
            print(TOKEN)
        case ["ecr", "describe-repositories"]:
            if os.environ.get("FAKE_REPO_EXISTS", "1") != "1":
                print("An error occurred (RepositoryNotFoundException)", file=sys.stderr)
                return 254
            print(json.dumps({"repositories": [{"repositoryName": argv[-1]}]}))
        case ["ecr", "create-repository"]:
            print(json.dumps({"repository": {"repositoryName": argv[argv.index("--repository-name") + 1]}}))
        case _:
            print(f"aws stand-in: unexpected call: aws {' '.join(argv)}", file=sys.stderr)
            return 252
    return 0


def docker(argv: list[str], stdin: str) -> int:
    command = argv[0] if argv else ""
    if command == "login":
        if "--password-stdin" not in argv or stdin.strip() != TOKEN:
            print("docker stand-in: login needs the ECR token on stdin", file=sys.stderr)
            return 1
        return 0
    if command in ("pull", "build", "push", "tag"):
        return 0
    print(f"docker stand-in: unexpected call: docker {' '.join(argv)}", file=sys.stderr)
    return 1


def main(tool: str, argv: list[str]) -> int:
    stdin = sys.stdin.read() if tool == "docker" and "--password-stdin" in argv else ""
    with open(os.environ["FAKE_RECORD"], "a") as record:
        record.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")
    if " ".join([tool, *argv]).startswith(os.environ.get("FAKE_FAIL") or "\0"):
        return 1
    if tool == "aws":
        return aws(argv)
    if tool == "docker":
        return docker(argv, stdin)
    return 0  # make: recorded only


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2:]))
