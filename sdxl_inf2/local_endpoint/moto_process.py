"""moto's server for local-endpoint, in a process of its own: `python -m local_endpoint.moto_process`.

A process rather than a thread: moto does real work per call (S3 objects, SNS fan-out to SQS,
CloudWatch datapoints), and in the command's own process it competes with the runtime for one GIL.
It accepts Inferentia2 instance types, decides conditional writes atomically, prints its URL on the
first line of stdout, and exits when its stdin closes, so it never outlives the command that started
it, however that one ends.
"""

from __future__ import annotations

import logging
import sys

from .moto_stack import accept_neuron_instance_types, atomic_conditional_puts


def main() -> int:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log on the command's stderr

    with accept_neuron_instance_types(), atomic_conditional_puts():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        print(f"http://{host}:{port}", flush=True)
        sys.stdin.read()  # until the parent closes the pipe or dies
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
