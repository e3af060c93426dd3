"""The request gateway: cache hits answered before the queue, demand counted as requests arrive.

    client ─> front end: Lambda (lambda_handler) | `sdxl-inf2 gateway serve` (serve) | `sdxl-inf2 invoke`
               └─> Gateway.submit (submit.py)
                    ├─ read and key the request as the container does, against its model card (card.py)
                    ├─ hit in the shared S3 cache tier   -> the images at once: one GET, no SageMaker call
                    ├─ identical seeded miss pending     -> join it (pending.py)
                    ├─ miss                              -> upload + InvokeEndpointAsync (enqueue.py),
                    │                                       a record by inference id (records.py)
                    └─ demand metrics per request (demand.py): EMF in Lambda, PutMetricData elsewhere

The container's own modules do the reading and keying (core/invocation.py, container/cache/),
so the gateway holds no second copy of a request rule. routes.py maps HTTP to the Gateway for both
HTTP front ends; package.py builds the Lambda zip; settings.py reads `SDXL_GATEWAY_*`.
"""
