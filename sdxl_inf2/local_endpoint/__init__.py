"""`sdxl-inf2 local-endpoint`: a deploy config's whole SageMaker endpoint on loopback.

stack.py            starts the pieces below in order, stops them in reverse
moto_stack.py       AWS on loopback (moto, in the config's account), the real `deploy` against it
account.py          what the account has before deploy: the config's buckets and IAM roles
served_endpoint.py  the endpoint's settings read back from DescribeEndpointConfig
instances.py        N real `serve` processes: /ping supervision, replacement
runtime_api.py      sagemaker-runtime over HTTP (InvokeEndpointAsync, InvokeEndpoint)
async_input.py      InvokeEndpointAsync's headers -> a queued request (botocore's constraints)
dispatcher.py       the FIFO queue: per-instance concurrency, TTL, redelivery after a lost instance
attempt.py          one delivery: input from S3 -> POST /invocations -> outcome
results.py          output/failure object, notification, log line
notifications.py    SageMaker's SNS messages (TestNotification, InferenceResult)
cloudwatch.py       backlog metrics, per-instance CPUUtilization samples, forwarded EMF metrics
emf.py              EMF documents -> datapoints (as CloudWatch Logs extracts them)
request.py          a request, an attempt's outcome, SageMaker's failure wording
events.py           one output line per request state change
"""
