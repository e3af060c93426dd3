"""Deploy tooling: Model Registry, the async endpoint, autoscaling to and from zero, the async client."""
