"""loadkit: load tests as reviewed YAML, compiled to Locust, judged by thresholds."""

__version__ = "0.1.0"
