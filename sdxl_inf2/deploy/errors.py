"""What the deploy commands can fail with; each message is one line for `sdxl-inf2: error: ...`.

    DeployError                 (anything the user must act on)
    ├── ConfigError             (the YAML file: names the bad key)
    ├── EndpointFailed          (the endpoint ended Failed; carries SageMaker's FailureReason)
    ├── WaitTimeout             (a wait ran past its limit: endpoint, deletion, or inference result)
    ├── InferenceFailed         (the async request ended in the failure location or an error notification)
    └── NotDeployed             (status/invoke/teardown of something that does not exist)

botocore's ClientError and BotoCoreError are not wrapped: the CLI edge turns them into one line too.
"""

from __future__ import annotations


class DeployError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line


class ConfigError(DeployError):
    pass


class EndpointFailed(DeployError):
    pass


class WaitTimeout(DeployError):
    pass


class InferenceFailed(DeployError):
    pass


class NotDeployed(DeployError):
    pass
