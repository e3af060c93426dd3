"""sdxl-inf2: serve precompiled SDXL on AWS Inferentia2 behind a SageMaker async endpoint."""
