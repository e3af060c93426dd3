#!/usr/bin/env bash
# Smoke-test a built image on a machine with Docker, the way SageMaker starts it:
#
#   scripts/smoke-test.sh IMAGE [MODEL_DIR]
#
# `docker run IMAGE serve` with MODEL_DIR (default: the tiny SDXL, built by `make tiny-model`)
# mounted read-only at /opt/ml/model and SDXL_BACKEND=torch (no Neuron device needed); waits for
# /ping, posts one request, checks that a PNG comes back, then stops the container (SIGTERM) and
# checks that the server exited 0. SMOKE_PORT (default 8080) and SMOKE_TIMEOUT_S (default 300).
set -euo pipefail

image=${1:?usage: scripts/smoke-test.sh IMAGE [MODEL_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
model=${2:-$here/model_artifacts/tiny-sdxl}
port=${SMOKE_PORT:-8080}
timeout_s=${SMOKE_TIMEOUT_S:-300}
name=sdxl-inf2-smoke-$$
out=$(mktemp -d)

say() { printf 'smoke-test: %s\n' "$*"; }
fail() {
    say "FAIL: $*" >&2
    docker logs "$name" 2>&1 | tail -n 40 >&2 || true
    exit 1
}
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT

for tool in docker curl; do
    command -v "$tool" >/dev/null || { say "FAIL: $tool not found" >&2; exit 1; }
done
[[ -f $model/manifest.json ]] || { say "FAIL: no manifest.json in $model (make tiny-model builds the default)" >&2; exit 1; }
model=$(cd "$model" && pwd)

say "docker run $image serve (model $model, port $port)"
start=$SECONDS
docker run --detach --name "$name" --publish "127.0.0.1:$port:8080" \
    --volume "$model:/opt/ml/model:ro" --env SDXL_BACKEND=torch "$image" serve >/dev/null

until curl -fsS -o /dev/null "http://127.0.0.1:$port/ping" 2>/dev/null; do
    [[ $(docker inspect --format '{{.State.Running}}' "$name") == true ]] || fail "the container exited"
    ((SECONDS - start < timeout_s)) || fail "/ping not 200 after ${timeout_s} s"
    sleep 1
done
say "ready: /ping 200 after $((SECONDS - start)) s"

status=$(curl -sS -o "$out/image.png" -w '%{http_code}' -X POST "http://127.0.0.1:$port/invocations" \
    -H 'Content-Type: application/json' -d '{"prompt": "a photo of a cat", "seed": 42, "num_inference_steps": 2}')
[[ $status == 200 ]] || fail "/invocations answered $status: $(head -c 300 "$out/image.png")"
signature=$(head -c 8 "$out/image.png" | od -An -tx1 | tr -d ' \n')
[[ $signature == 89504e470d0a1a0a ]] || fail "/invocations did not return a PNG (starts with $signature)"
say "invocation: 200, PNG, $(wc -c <"$out/image.png") bytes"

# SageMaker stops containers with SIGTERM and kills them 30 s later: the server must exit 0 in time.
docker stop --time 30 "$name" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "after SIGTERM the server exited with $code, not 0"
say "stopped: exit 0"
say "PASS ($image, $((SECONDS - start)) s)"
