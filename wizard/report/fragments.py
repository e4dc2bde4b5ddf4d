"""The read-only report's HTML on the web pages (report/_body.html ``report_body``: the review
page, the county's, the administrator's and the expert's pages), kept per what it shows.

The body depends on the report definition, the answers, the cluster's category, the years, the
county's opinion, the evidence appendix (files, pages, links) and the page's script root, and on
nothing else of the request; the same report is shown again and again (a county reviewer, the
administrators, the applicant between saves), so its HTML is kept under a digest of exactly these
and written again only when one of them changes.  The printed report (``paper``) is never kept:
it is laid out once per PDF, which has a cache of its own.
"""
from __future__ import annotations

import hashlib
import json
import threading

from flask import has_request_context, request
from markupsafe import Markup

#: at most this many bodies a worker (about 100–150 kB each: a few MB)
MAX_ENTRIES = 48

_bodies: dict = {}
_lock = threading.Lock()


def _evidence_key(ev):
    """What the body shows of the evidence appendix (its table of contents, the page references)."""
    if ev is None:
        return None
    return (bool(ev.links),
            tuple((p.file.id, p.file.original_name, p.slot.label, p.pages_text) for p in ev.placed),
            tuple(sorted(ev.refs.items())))


def body_key(report, answers, sub, years, blank, opinion, ev) -> bytes | None:
    """A digest of everything the body shows (None: not kept, e.g. answers that are not JSON)."""
    try:
        shown = json.dumps({
            "answers": answers,
            "opinion": opinion,
            "category": None if sub is None else [sub.cluster.category, sub.cluster.category_label],
            "years": years,
            "blank": bool(blank),
            "evidence": _evidence_key(ev),
            "root": request.script_root if has_request_context() else None,
        }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, AttributeError):
        return None
    return hashlib.blake2b(shown.encode("utf-8"), digest_size=20).digest()


def report_body_html(macro, report, answers, sub, years, blank=False, opinion=None, ev=None, paper=None) -> Markup:
    """``macro(...)`` (report/_body.html's body), from the kept copy when the same report was
    shown before with the same answers, opinion and evidence; the printed report is written anew."""
    if paper:
        return macro(report, answers, sub, years, blank, opinion, ev, paper)
    digest = body_key(report, answers, sub, years, blank, opinion, ev)
    if digest is None:
        return macro(report, answers, sub, years, blank, opinion, ev, paper)
    key = (id(macro), id(report), digest)
    entry = _bodies.get(key)
    if entry is not None and entry[0] is macro and entry[1] is report:
        return Markup(entry[2])
    html = str(macro(report, answers, sub, years, blank, opinion, ev, paper))
    with _lock:
        while _bodies and len(_bodies) >= MAX_ENTRIES:
            _bodies.pop(next(iter(_bodies)))
        _bodies[key] = (macro, report, html)
    return Markup(html)
