"""The inference server that runs in the image.

Process layout (see docs/architecture.md)::

    serve (gunicorn master, no model, no threads)
      └── front (one gunicorn gthread worker: Flask app, /ping, /invocations, the shared job queue)
            ├── model worker 0  (spawned; NEURON_RT_VISIBLE_CORES=0-1 | CUDA_VISIBLE_DEVICES=0 | cpu)
            ├── model worker 1  (spawned; NEURON_RT_VISIBLE_CORES=2-3 ...)
            └── ...

Nothing in this package imports torch, diffusers or Neuron modules at import time: the model
workers set their device pinning first, then import their backend.
"""
