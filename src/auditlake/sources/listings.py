"""API listings: responses whose records stand in one array among other members, told from an
input's first bytes whatever order the members are written in.

- Cloud Logging's `entries.list` response: `{"entries": [...], "nextPageToken": ...}`, the
  token first or last;
- a Kubernetes `EventList` (what the audit webhook backend posts): `kind`, `apiVersion` and
  `metadata`, and its `items`. Written with sorted keys (`jq -S`), `items` comes before `kind`:
  the `audit.k8s.io` API version then tells it, or, when the whole listing fits in the first
  bytes read, its `kind` after the items.

The records are framed one by one, as a CloudTrail `Records` array is; the members before the
array are passed over with its opening (`Listing.opening`), those after it with its closing.

>>> listing_of('{"nextPageToken": "x", "entries": [{"a": 1}]}').label
'Cloud Logging entries listing'
>>> listing_of('{"apiVersion": "audit.k8s.io/v1", "items": [{"kind": "Event"}], "kind": "EventList"}').label
'Kubernetes EventList'
>>> listing_of('{"apiVersion": "v1", "items": [], "kind": "List"}') is None
True
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple


class Listing(NamedTuple):
    """A kind of listing: in words, and the pattern of its text up to its records' `[`."""

    label: str
    opening: re.Pattern[str]


ENTRIES = Listing(
    "Cloud Logging entries listing",
    re.compile(r'\s*\{(?:\s*"nextPageToken"\s*:\s*"[^"\\]*"\s*,)?\s*"entries"\s*:\s*\['),
)
EVENT_LIST = Listing(
    "Kubernetes EventList",
    re.compile(
        r'\s*\{(?:\s*"(?:kind|apiVersion)"\s*:\s*"[^"\\]*"\s*,|\s*"metadata"\s*:\s*\{[^{}]*\}\s*,)*\s*"items"\s*:\s*\['
    ),
)
_KIND = re.compile(r'"kind"\s*:\s*"([^"\\]*)"')
_AUDIT_API = re.compile(r'"apiVersion"\s*:\s*"audit\.k8s\.io/')


def listing_of(head: str) -> Listing | None:
    """The listing an input starting with `head` is, or None for any other input."""
    if ENTRIES.opening.match(head):
        return ENTRIES
    opening = EVENT_LIST.opening.match(head)
    if opening is not None and _is_event_list(opening[0], head):
        return EVENT_LIST
    return None


def _is_event_list(opening: str, head: str) -> bool:
    """Whether an object whose `items` follow only `kind`, `apiVersion` and `metadata` is an
    `EventList` (any other kind, a `PodList` say, is a record that holds items)."""
    kind = _KIND.search(opening)
    if kind is not None:
        return kind[1] == "EventList"
    if _AUDIT_API.search(opening):
        return True
    try:  # no kind before the items: after them, if the head holds the whole listing
        listing, _ = json.JSONDecoder().raw_decode(head.lstrip())
    except ValueError:
        return False
    return isinstance(listing, dict) and listing.get("kind") == "EventList"
