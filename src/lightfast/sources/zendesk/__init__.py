"""Zendesk: ticket and help-center webhooks, the Support and Help Center REST APIs, documents."""
