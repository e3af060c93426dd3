#!/usr/bin/env bash
# Serve a model folder, wait until /ping says ready, print a request that works, stay in the foreground.
set -euo pipefail
model=${1:?model folder}
port=${SAGEMAKER_BIND_TO_PORT:-8080}
here=$(cd "$(dirname "$0")/.." && pwd)

"$here/.venv/bin/serve" --model-dir "$model" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"' INT TERM

"$here/.venv/bin/python" - "$port" "$server" <<'PY'
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
            if response.status == 200:
                break
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("serve exited before it became ready")
    time.sleep(0.5)
PY

cat <<MSG

  sdxl-inf2 is ready on http://localhost:${port} (tiny random-weight SDXL: expect colourful noise).
  Try:

    curl -s -X POST localhost:${port}/invocations -H 'Content-Type: application/json' \\
         -d '{"prompt": "a photo of a cat", "seed": 42}' -o cat.png && file cat.png

  Ctrl-C stops the server.

MSG
wait "$server"
