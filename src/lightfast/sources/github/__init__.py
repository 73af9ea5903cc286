"""GitHub App source: webhook parsing."""
