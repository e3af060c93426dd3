"""The SageMaker request and response headers the front reads and writes."""

INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"  # given by SageMaker (async: always); else generated
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"  # forwarded verbatim both ways, ≤ 1024 chars
