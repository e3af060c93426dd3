# sdxl-inf2 serving image. Minimal here; the container-image issue completes it (hadolint, buildah test).
# The base is the Neuron inference DLC matching optimum-neuron 0.4.5 (Neuron SDK 2.26.1, Python 3.11),
# from ECR Public so no login is needed to pull it. Its torch/torch-neuronx are kept as they are.
ARG BASE_IMAGE=public.ecr.aws/neuron/pytorch-inference-neuronx:2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04
FROM ${BASE_IMAGE}

LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    SM_MODEL_DIR=/opt/ml/model

WORKDIR /opt/sdxl-inf2
COPY pyproject.toml README.md serve.py ./
COPY container ./container
COPY compile ./compile
COPY sdxl_inf2 ./sdxl_inf2
RUN pip install --no-cache-dir .

EXPOSE 8080
# SageMaker runs `docker run IMAGE serve`: exec form, so SIGTERM reaches the gunicorn master.
ENTRYPOINT ["serve"]
