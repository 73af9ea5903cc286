"""A local stand-in for the slice of the GitHub REST API a GitHub App uses to index repositories.

Tests of the GitHub source point the product (githubkit with a configurable API base URL) at
:class:`GitHubStandIn`. It serves real git repositories created by the tests: trees, blobs, contents,
branches, commits and comparisons are read with the ``git`` CLI from each working tree's object
database (committed content only) and answered in GitHub's documented shapes and headers. It also
issues installation tokens against App JWTs, injects rate limits and server errors on demand, logs
every request, and builds ``push`` webhook payloads for commit ranges of a served repository.
"""

from .auth import generate_private_key
from .server import GitHubStandIn, RecordedRequest

__all__ = ["GitHubStandIn", "RecordedRequest", "generate_private_key"]
