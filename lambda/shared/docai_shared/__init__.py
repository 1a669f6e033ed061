"""Code shared by every docai-blueprint Lambda, deployed once as a Lambda layer.

- ``observability``: structured JSON logs with a correlation id, CloudWatch Embedded Metric Format.
- ``errors``: the named exception types Step Functions routes on (Retry transient, Catch permanent).
"""
