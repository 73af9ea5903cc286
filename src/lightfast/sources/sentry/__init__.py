"""Sentry: Integration Platform webhooks and the REST API (issue 14)."""
