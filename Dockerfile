# sdxl-inf2 serving image: SageMaker runs `docker run IMAGE serve`.
#
# The base is the Neuron inference DLC that matches optimum-neuron 0.4.5 (Neuron SDK 2.26.1,
# Python 3.11), from ECR Public so no login is needed to pull it. Its torch 2.8, torch-neuronx,
# neuronx-cc and numpy are built for each other and are never replaced: image/pins.py turns them
# into pip constraints, so a dependency that wants another torch stops the build, and checks them
# again after the install. The tests build this same file on a local stand-in base
# (`make image-test`).
ARG BASE_IMAGE=public.ecr.aws/neuron/pytorch-inference-neuronx:2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04
FROM ${BASE_IMAGE}

LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      org.opencontainers.image.title="sdxl-inf2" \
      org.opencontainers.image.description="SageMaker container serving precompiled SDXL on AWS Inferentia2"

# HF_HUB_OFFLINE: the model comes from /opt/ml/model only, never from the Hub at run time.
# NEURON_RT_LOG_*: runtime messages go to stdout/stderr (CloudWatch) at WARNING; there is no syslog
# in the container. NEURON_RT_VISIBLE_CORES is deliberately unset: the server pins each worker to
# one chip itself, and a container-level value would narrow the cores it plans for.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    SM_MODEL_DIR=/opt/ml/model \
    NEURON_RT_LOG_LOCATION=console \
    NEURON_RT_LOG_LEVEL=WARNING

WORKDIR /opt/sdxl-inf2

# Dependencies first, from pyproject.toml alone, so editing the source reuses this (large) layer.
COPY image/pins.py pyproject.toml ./
RUN python pins.py constraints > base-constraints.txt \
 && python pins.py requirements pyproject.toml > requirements.txt \
 && python -m pip install --no-cache-dir -c base-constraints.txt -r requirements.txt \
 && python pins.py check base-constraints.txt

# Then the project itself, without touching any dependency.
COPY README.md ./
# sdxl_inf2/container and sdxl_inf2/compile are links to the two folders beside it.
COPY sdxl_inf2 ./sdxl_inf2
COPY container ./container
COPY compile ./compile
RUN python -m pip install --no-cache-dir --no-deps -c base-constraints.txt . \
 && python pins.py check base-constraints.txt \
 && rm -rf build ./*.egg-info

EXPOSE 8080
# Docker only (SageMaker pings on its own): the port follows SAGEMAKER_BIND_TO_PORT, and loading a
# compiled SDXL onto every chip takes minutes, hence the long start period.
# (sh -c so the variable expands when the check runs; the base ships curl.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${SAGEMAKER_BIND_TO_PORT:-8080}/ping || exit 1"]

# Exec form, so SIGTERM goes straight to the gunicorn master (`serve`), which drains and exits 0.
# It replaces the base's dockerd-entrypoint.py (TorchServe), and setting ENTRYPOINT empties the
# base's CMD, so nothing of TorchServe's reaches `serve`. SageMaker's `serve` argument is accepted
# by the server. Runs as root, as SageMaker expects.
ENTRYPOINT ["serve"]

