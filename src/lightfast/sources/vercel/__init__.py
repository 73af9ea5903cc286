"""Vercel: deployments as documents, from signed webhook deliveries and the REST API."""
