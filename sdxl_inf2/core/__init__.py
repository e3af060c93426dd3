"""The small core that the server, the gateway, deploy, the local endpoint and the simulator share.

The request schema and how a request is read (`schema`, `invocation`, `negotiation`, `variants`),
what an artifact folder holds (`manifest`, `modeldir`, `guidance`, `schedulers`), the result cache's
key, entry, model card and S3 tier (`cache/`), the error root (`errors`), settings read from the
environment (`settings`), and the AWS facts every side shares: SageMaker's limits and defaults, read
from botocore's model (`sagemaker`), and the CloudWatch names and formulas (`metrics`). It imports no
Flask, gunicorn or torch, so the gateway's Lambda zip can carry it alone.
"""
