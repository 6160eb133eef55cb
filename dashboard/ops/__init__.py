"""What operators and their monitoring read: readiness, Prometheus metrics, and the counters behind them.

- ``counters``: the counters this process keeps; every domain counts into it, so it imports nothing from
  ``dashboard`` and sits at the bottom of the layers
- ``metrics``: gauges read from the database at scrape time, and the ``/metrics`` text
- ``health``: readiness (``/readyz``): each check named, so the failing one is said

``metrics`` and ``health`` read every domain (refresh, lifecycle, webhooks) and are read only by ``web``.
Alerts (Slack-compatible) are sent by ``dashboard.webhooks.alerts``.
"""
