"""`iam-policy`: the least-privilege policy for the endpoint's execution role.

Each statement is scoped to this deployment's resources. The only "*" resources are the ones AWS
allows no narrower: ecr:GetAuthorizationToken (account-wide by design) and cloudwatch:PutMetricData
(no resource ARNs; limited here by the cloudwatch:namespace condition key instead).
"""

from __future__ import annotations

from typing import Any

from sdxl_inf2.core import metrics
from sdxl_inf2.gateway.objects import split_s3

from .config import DeployConfig
from .gateway import function_name as gateway_function_name
from .naming import arn, ecr_repository, log_group
from .notifications import subscribed_topics

Statement = dict[str, Any]


def execution_role_policy(config: DeployConfig, region: str) -> dict[str, Any]:
    statements = [*_ecr(config), _model_artifact(config), *_async_data(config), *_logs(config, region)]
    statements += [_metrics(config), *_result_cache(config)]
    topics = subscribed_topics(config, region)
    if topics:
        statements.append(_allow("PublishResultNotifications", ["sns:Publish"], topics))
    if config.async_inference and config.async_inference.kms_key_id:
        statements.append(_kms(config.async_inference.kms_key_id))
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(sid: str, actions: list[str], resources: list[str] | str, condition: Statement | None = None) -> Statement:
    statement: Statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _ecr(config: DeployConfig) -> list[Statement]:
    account, region, repository = ecr_repository(config)
    repo_arn = f"arn:{config.partition}:ecr:{region}:{account}:repository/{repository}"
    pull = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    return [
        _allow("PullTheImage", pull, repo_arn),
        _allow("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),  # the token call has no resource to scope to
    ]


def _s3_object_arn(config: DeployConfig, uri: str) -> str:
    bucket, key = split_s3(uri)
    return f"arn:{config.partition}:s3:::{bucket}/{key}"


def _model_artifact(config: DeployConfig) -> Statement:
    return _allow("ReadTheModelArtifact", ["s3:GetObject"], _s3_object_arn(config, config.model_data_url))


def _prefix(uri: str) -> str:
    return uri.rstrip("/") + "/"


def _async_data(config: DeployConfig) -> list[Statement]:
    """Read requests from the input prefix; write results and failures; list only under those prefixes."""
    settings = config.async_inference
    if settings is None:  # a real-time endpoint reads and writes no S3 data
        return []
    writes = [_s3_object_arn(config, _prefix(p)) + "*" for p in (settings.output_path, settings.failure_path)]
    statements = [
        _allow("ReadAsyncRequests", ["s3:GetObject"], _s3_object_arn(config, _prefix(settings.input_path)) + "*"),
        _allow("WriteAsyncResults", ["s3:PutObject", "s3:AbortMultipartUpload"], sorted(set(writes))),
    ]
    return statements + _list_buckets(config, [settings.input_path, settings.output_path, settings.failure_path])


def _list_buckets(config: DeployConfig, uris: list[str], sid: str = "ListAsyncPrefixes") -> list[Statement]:
    by_bucket: dict[str, set[str]] = {}
    for uri in uris:
        bucket, key = split_s3(_prefix(uri))
        by_bucket.setdefault(bucket, set()).add(key + "*")
    return [
        _allow(
            f"{sid}{index}",
            ["s3:ListBucket"],
            f"arn:{config.partition}:s3:::{bucket}",
            {"StringLike": {"s3:prefix": sorted(prefixes)}},
        )
        for index, (bucket, prefixes) in enumerate(sorted(by_bucket.items()))
    ]


def _logs(config: DeployConfig, region: str) -> list[Statement]:
    group = arn(config, "logs", region, f"log-group:{log_group(config)}")
    return [
        _allow(
            "EndpointLogGroup", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams"], f"{group}:*"
        ),
        _allow("EndpointLogEvents", ["logs:PutLogEvents"], f"{group}:log-stream:*"),
    ]


def _metrics(config: DeployConfig) -> Statement:
    # AWS's documented CreateModel execution-role policy includes PutMetricData; PutMetricData has no
    # resource ARNs, so the namespace condition is the narrowest scope: the endpoint's instance
    # metrics and the container's own namespace (should it ever publish directly rather than via EMF).
    namespaces = [metrics.INSTANCE_NAMESPACE, config.container_metric_namespace]
    return _allow("EndpointMetrics", ["cloudwatch:PutMetricData"], "*", _namespace_is(namespaces))


def _namespace_is(namespaces: list[str]) -> Statement:
    return {"StringEquals": {"cloudwatch:namespace": namespaces}}


def _result_cache(config: DeployConfig) -> list[Statement]:
    """Read, write and drop (corrupt) entries under SDXL_CACHE_S3_URI. ListBucket on the prefix too:
    without it S3 answers a missing key with 403 rather than 404, and every miss reads as a failure."""
    uri = config.cache_s3_uri
    if not uri:
        return []
    bucket, key = split_s3(_prefix(uri))
    entries = f"arn:{config.partition}:s3:::{bucket}/{key}*"
    return [
        _allow("ResultCacheEntries", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], entries),
        _allow(
            "ResultCacheList",
            ["s3:ListBucket"],
            f"arn:{config.partition}:s3:::{bucket}",
            {"StringLike": {"s3:prefix": [f"{key}*"]}},
        ),
    ]


def _kms(key_arn: str) -> Statement:
    # SSE-KMS on the result objects: a data key per object, Decrypt for multipart uploads.
    return _allow("EncryptAsyncResults", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], key_arn)


def gateway_role_policy(config: DeployConfig, region: str) -> dict[str, Any]:
    """The gateway function's role: read the cache tier (entries, model card, its own claims and records)
    and write only its own state; upload request bodies; read results; queue on this endpoint only;
    count demand in the container's namespace (at high resolution for the surge alarm, which needs no
    other permission); its own log group (EMF metrics travel through it)."""
    settings, uri = config.async_settings("the gateway"), config.cache_s3_uri or ""
    cache, state = _s3_object_arn(config, _prefix(uri)) + "*", _s3_object_arn(config, _prefix(uri) + "gateway/") + "*"
    results = sorted({_s3_object_arn(config, _prefix(p)) + "*" for p in (settings.output_path, settings.failure_path)})
    endpoint = arn(config, "sagemaker", region, f"endpoint/{config.name.lower()}")  # SageMaker ARNs are lower case
    group = arn(config, "logs", region, f"log-group:/aws/lambda/{gateway_function_name(config)}")
    statements = [
        _allow("ReadCacheEntriesAndModelCard", ["s3:GetObject"], cache),
        _allow("WritePendingClaimsAndRecords", ["s3:PutObject"], state),
        _allow("UploadRequests", ["s3:PutObject"], _s3_object_arn(config, _prefix(settings.input_path)) + "*"),
        _allow("ReadResults", ["s3:GetObject"], results),
        *_list_buckets(config, [uri, settings.output_path, settings.failure_path], sid="ListForMissingObjects"),
        _allow("QueueOnTheEndpoint", ["sagemaker:InvokeEndpointAsync"], endpoint),
        _allow("CountDemand", ["cloudwatch:PutMetricData"], "*", _namespace_is([config.container_metric_namespace])),
        _allow("FunctionLogGroup", ["logs:CreateLogGroup"], f"{group}:*"),
        _allow("FunctionLogEvents", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{group}:log-stream:*"),
    ]
    if settings.kms_key_id:  # results encrypted with it are read back by GET .../invocations/<id>
        statements.append(_allow("DecryptResults", ["kms:Decrypt"], settings.kms_key_id))
    return {"Version": "2012-10-17", "Statement": statements}
