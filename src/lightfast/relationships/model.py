"""The values of the relationship graph: what a document points at (a ``Target``), how (an ``Edge``'s
kind) and the words that said so (its evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Target types: one namespace of keys each. GitHub issues and pull requests share one number space per
# repository, so ``owner/repo#N`` is one type whichever it is.
GITHUB: Final = "github"  # "owner/repo#123" (lowercase owner/repo)
GITHUB_COMMIT: Final = "github_commit"  # a commit sha, 7 to 40 lowercase hex
LINEAR: Final = "linear"  # "ENG-123"
SENTRY: Final = "sentry"  # a short id "PROJ-1A2B" or a numeric issue id
ZENDESK: Final = "zendesk"  # a ticket number "7890"
VERCEL: Final = "vercel"  # a deployment id "dpl_..." or a deployment host "app-git-x.vercel.app"
NOTION: Final = "notion"  # a page id: 32 lowercase hex, dashes removed
TARGET_TYPES: Final = (GITHUB, GITHUB_COMMIT, LINEAR, SENTRY, ZENDESK, VERCEL, NOTION)

# Edge kinds. The verbs of a sentence say which way an edge goes: "fixes ENG-7" is this document fixing
# ENG-7, "fixed by acme/api#42" is the pull request fixing this one.
FIXES: Final = "fixes"
FIXED_BY: Final = "fixed_by"
BLOCKS: Final = "blocks"
BLOCKED_BY: Final = "blocked_by"
DEPENDS_ON: Final = "depends_on"
RELATES_TO: Final = "relates_to"
DUPLICATES: Final = "duplicates"
MENTIONS: Final = "mentions"
# Temporal edges, from metadata rather than words: a deployment of a commit, an error first seen in a
# release (a commit), a document changed by a commit.
DEPLOYS: Final = "deploys"
IN_RELEASE: Final = "in_release"
CHANGED_IN: Final = "changed_in"
EDGE_KINDS: Final = (
    FIXES,
    FIXED_BY,
    BLOCKS,
    BLOCKED_BY,
    DEPENDS_ON,
    RELATES_TO,
    DUPLICATES,
    MENTIONS,
    DEPLOYS,
    IN_RELEASE,
    CHANGED_IN,
)

# A commit is matched on its abbreviation: "abc1234" and the full 40 hex name the same commit. Seven is
# git's own shortest default abbreviation, and the shortest a mention may use.
COMMIT_PREFIX: Final = 7

MAX_EVIDENCE: Final = 160


@dataclass(frozen=True, order=True)
class Target:
    type: str
    key: str

    @property
    def match_key(self) -> str:
        """What the edges table indexes: the key itself, or a commit's seven-character abbreviation (the
        full sha of both sides is compared afterwards)."""
        return self.key[:COMMIT_PREFIX] if self.type == GITHUB_COMMIT else self.key

    def same_as(self, other: Target) -> bool:
        """Whether two targets name the same thing: equal keys, or for commits one sha a prefix of the
        other."""
        if self.type != other.type:
            return False
        if self.type == GITHUB_COMMIT:
            return self.key.startswith(other.key) or other.key.startswith(self.key)
        return self.key == other.key

    def label(self) -> str:
        return f"{self.type}:{self.key}"


@dataclass(frozen=True)
class Edge:
    kind: str
    target: Target
    evidence: str = ""
