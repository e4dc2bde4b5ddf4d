"""The read-only report's HTML on the web pages (report/_body.html ``report_body``: the review
page, the county's, the administrator's and the expert's pages), kept per what it shows.

The body depends on the report definition, the answers, the cluster's category, the years, the
county's opinion, the evidence appendix (files, pages, links) and the page's script root, and on
nothing else of the request; the same report is shown again and again (a county reviewer, the
administrators, the applicant between saves), so its HTML is kept under a digest of exactly these
and written again only when one of them changes.  A page that knows what its answers are (a
submission's round as saved: its row's id and version; a snapshot: its id) names them with
``known_answers`` and spares the digest of the whole answers document (about 50 kB of JSON
encoded per page).  The printed report (``paper``) is never kept:
it is laid out once per PDF, which has a cache of its own.
"""
from __future__ import annotations

import hashlib
import json
import threading

from flask import g, has_request_context, request
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


def known_answers(answers, identity: str) -> None:
    """This request shows ``answers`` (this very object, unchanged for the rest of the request)
    as what ``identity`` names: a string that changes whenever the answers could (a submission's
    row key, see checks.shown_answers_identity; an immutable snapshot's id).  body_key then digests the
    name instead of the whole document, and checks.review_checks keeps its lists under it.
    Outside a request: nothing (the answers are digested, the checks run)."""
    if has_request_context():
        g.setdefault("known_answers", {})[id(answers)] = (answers, identity)


class DeferredAnswers:
    """Answers a page names but reads only when the body must be written anew: a snapshot's
    (never changed; hundreds of kB of JSON to read) on the expert's page, whose body is kept.
    ``identity``: as for ``known_answers``; ``load()``: the answers."""

    __slots__ = ("identity", "load")

    def __init__(self, identity: str, load):
        self.identity = identity
        self.load = load


def identity_of(answers) -> str | None:
    """The name ``known_answers`` gave this very object in this request (or a DeferredAnswers'
    own), if any."""
    if isinstance(answers, DeferredAnswers):
        return answers.identity
    if not has_request_context():
        return None
    entry = g.get("known_answers", {}).get(id(answers))
    return entry[1] if entry is not None and entry[0] is answers else None


def body_key(report, answers, sub, years, blank, opinion, ev) -> bytes | None:
    """A digest of everything the body shows (None: not kept, e.g. answers that are not JSON)."""
    identity = identity_of(answers)
    try:
        shown = json.dumps({
            "answers": answers if identity is None else None,
            "known": identity,
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
    shown before with the same answers, opinion and evidence; the printed report is written anew.
    ``answers``: a dict, or DeferredAnswers (read only if the body is written)."""
    digest = None if paper else body_key(report, answers, sub, years, blank, opinion, ev)
    key = None if digest is None else (id(macro), id(report), digest)
    entry = None if key is None else _bodies.get(key)
    if entry is not None and entry[0] is macro and entry[1] is report:
        return Markup(entry[2])
    if isinstance(answers, DeferredAnswers):
        answers = answers.load()
    if key is None:
        return macro(report, answers, sub, years, blank, opinion, ev, paper)
    html = str(macro(report, answers, sub, years, blank, opinion, ev, paper))
    with _lock:
        while _bodies and len(_bodies) >= MAX_ENTRIES:
            _bodies.pop(next(iter(_bodies)))
        _bodies[key] = (macro, report, html)
    return Markup(html)
