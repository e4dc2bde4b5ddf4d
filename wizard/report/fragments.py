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
import re
import threading

from flask import g, has_request_context, request
from jinja2.runtime import Namespace
from markupsafe import Markup, escape

from ..kept import Kept

#: the bodies a worker keeps: at most 1,024, and at most 6 M characters of them (a body is about
#: 60–150 k characters, two bytes each as Python keeps Chinese text: 6 M characters hold the 50 to
#: 100 reports a reviewer or the administrators go through, about 12 MB; the oldest go first)
_bodies = Kept(1024, 6_000_000)


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


def report_body_html(macro, report, answers, sub, years, blank=False, opinion=None, ev=None, paper=None,
                     partials=None, appendix=None) -> Markup:
    """``macro(...)`` (report/_body.html's body), from the kept copy when the same report was
    shown before with the same answers, opinion and evidence; the printed report is written anew.
    ``answers``: a dict, or DeferredAnswers (read only if the body is written).  A web page's body
    written anew is written from skeletons (written_body below) when the page gives its kinds'
    partials and its appendix macro."""
    digest = None if paper else body_key(report, answers, sub, years, blank, opinion, ev)
    key = None if digest is None else (id(macro), id(report), digest)
    entry = None if key is None else _bodies.get(key)
    if entry is not None and entry[0] is macro and entry[1] is report:
        return Markup(entry[2])
    if isinstance(answers, DeferredAnswers):
        answers = answers.load()
    if paper or blank or partials is None or appendix is None or type(answers) is not dict:
        if key is None:
            return macro(report, answers, sub, years, blank, opinion, ev, paper)
        html = str(macro(report, answers, sub, years, blank, opinion, ev, paper))
    else:
        html = written_body(macro, partials, appendix, report, answers, sub, years, opinion, ev)
        if key is None:
            return Markup(html)
    _bodies.put(key, (macro, report, html), len(html))
    return Markup(html)


# --- the body written from skeletons: what the definition fixes, written once ------------------
#
# A report body written anew (a report not shown before in this worker: every page of a reviewer
# going through the submissions) cost about 5 ms of Jinja: a hundred fields' macros, their labels,
# headers and attribute look-ups, though all but the values depend on the definition alone.  It is
# now written in two layers, each rendered by the templates themselves once and then filled:
#
# - the body's skeleton (written_body with every field and the evidence appendix left as a slot:
#   headings, notes, table frames and headers), once per report, years and category;
# - each field's skeleton: its kind's ``show`` macro rendered once with *probes* in place of the
#   answers, the evidence appendix and the opinion.  A probe answers every test the macro makes of
#   a value (truth, ``==``) with the real value's answer and records it; what the macro writes of a
#   value (``{{ value }}``, number_text, growth_of, shown_rows) becomes a slot.  The skeleton is
#   kept with the tests it depends on, and used again for the same field wherever every recorded
#   test gives the same answer (the macro would then take the same path and write the same text
#   around the values); anything else a macro does with a value (its length, splitting it into
#   paragraphs, ...) makes the probe refuse (Unsupported), and the field is written by its macro,
#   as it is whenever the same tests led there before.

class Unsupported(Exception):
    """A macro did with a probed value something a skeleton cannot stand for."""


_VMARK, _VEND = "\ue004", "\ue005"  # a value's slot in a field's skeleton
_FMARK, _FEND = "\ue006", "\ue007"  # a field's (or the appendix's) slot in the body's skeleton


class _Recording:
    """The tests made of the probed values while a field's skeleton is written, and its slots."""

    def __init__(self):
        self.trace = []  # (path, op, operand, answer)
        self.slots = {}  # slot name -> (what the value is written as: None for {{ value }}, path)

    def slot(self, conversion, path) -> str:
        name = f"s{len(self.slots)}"
        self.slots[name] = (conversion, path)
        return f"{_VMARK}{name}{_VEND}"


_CONSTANTS = (type(None), str, int, bool)


class Probe:
    """A value as a field's macro sees it while its skeleton is written (see above): ``path`` says
    where it comes from (``("a", ("get", "revenue", None), ...)``: answers.get("revenue") ...)."""

    __slots__ = ("rec", "path", "real")

    def __init__(self, rec, path, real):
        object.__setattr__(self, "rec", rec)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "real", real)

    def slot(self, convert) -> Markup:
        """The mark a helper of the templates writes for this value (number_text, growth_of,
        shown_rows: report/view.py), filled with ``convert(value)``: what the helper writes of it."""
        return Markup(self.rec.slot(convert, self.path))

    def __bool__(self):
        answer = bool(self.real)
        self.rec.trace.append((self.path, "bool", None, answer))
        return answer

    def __eq__(self, other):
        if type(other) not in _CONSTANTS:
            raise Unsupported("==")
        answer = bool(self.real == other)
        self.rec.trace.append((self.path, "eq", other, answer))
        return answer

    def __ne__(self, other):
        return not self.__eq__(other)

    def get(self, key, default=None):
        if type(self.real) is not dict or type(key) not in _CONSTANTS or type(default) not in _CONSTANTS:
            raise Unsupported("get")
        return Probe(self.rec, self.path + (("get", key, default),), self.real.get(key, default))

    def __getattr__(self, name):
        if name.startswith("__") or name == "jinja_pass_arg":
            raise AttributeError(name)
        try:
            value = getattr(self.real, name)
        except AttributeError:
            raise Unsupported(name) from None
        if callable(value):
            raise Unsupported(name)
        return Probe(self.rec, self.path + (("attr", name, None),), value)

    def __getitem__(self, key):
        if type(key) not in _CONSTANTS:
            raise Unsupported("[]")
        try:
            value = self.real[key]
        except Exception:
            raise Unsupported("[]") from None
        return Probe(self.rec, self.path + (("item", key, None),), value)

    def __html__(self):
        return self.rec.slot(None, self.path)

    def __setattr__(self, name, value):
        raise Unsupported("set")

    def _refuse(self, *args, **kwargs):
        raise Unsupported("operation")

    __hash__ = __str__ = __repr__ = __iter__ = __len__ = __contains__ = __int__ = __float__ = __index__ = _refuse
    __call__ = __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = __mul__ = __rmul__ = _refuse
    __mod__ = __rmod__ = __sub__ = __rsub__ = __truediv__ = __format__ = __round__ = __reversed__ = _refuse

    @property
    def __class__(self):  # isinstance(probe, anything but Probe) in a helper: refused, never guessed
        raise Unsupported("isinstance")


_MISSING = object()

_SPLIT_VALUES = re.compile(f"{_VMARK}([^{_VEND}]*){_VEND}")
_SPLIT_FIELDS = re.compile(f"{_FMARK}([^{_FEND}]*){_FEND}")


def slot_format(parts) -> str:
    """A skeleton split at its slots (``re.split``: text, slot name, text, …) as one ``%`` format
    with a named field per slot: it is then written by one ``fmt % values`` (in C) instead of a
    Python loop over the skeleton's pieces (here and in report/view.py)."""
    return "".join(part.replace("%", "%%") if k % 2 == 0 else f"%({part})s" for k, part in enumerate(parts))


#: variants of a field's skeleton kept per field and what else its macro reads (at most this many)
MAX_VARIANTS = 24

#: (report, macro, years, category) -> (report, the body's skeleton and its fields' variants)
_body_skeletons = Kept(256)
_skeleton_lock = threading.Lock()


def _record_field(show, field, section, r, variants):
    """Write ``field`` with probes (see above): its skeleton, kept in ``variants``; None when its
    macro did with a value what a skeleton cannot stand for (that path is kept as well: written by
    the macro from then on)."""
    rec = _Recording()
    probe_ns = Namespace(answers=Probe(rec, ("a",), r.answers), sub=r.sub, years=r.years, blank=r.blank,
                         opinion=Probe(rec, ("o",), r.opinion), ev=Probe(rec, ("e",), r.ev),
                         group=r.group, paper=r.paper)
    try:
        html = str(show(field, section, probe_ns))
        parts = _SPLIT_VALUES.split(html)
        names = parts[1::2]
        if (sorted(names) != sorted(rec.slots) or len(set(names)) != len(names)
                or any(_VMARK in p or _VEND in p for p in parts[0::2])):
            raise Unsupported("slots")
    except Unsupported:
        entry = (field, section, _refused(tuple(rec.trace), field), False, None)
    else:
        entry = (field, section, _compiled(tuple(rec.trace), slot_format(parts),
                                           tuple((name,) + rec.slots[name] for name in names), field),
                 True, probe_ns.group)
    if len(variants) < MAX_VARIANTS:
        with _skeleton_lock:
            variants.append(entry)
    return entry


def _compiled(trace, fmt, slots, field):
    """A variant as one Python function of the answers, the opinion and the evidence appendix:
    its HTML when every recorded test gives the same answer on them, else None (a value the macro
    would not reach the same way: a ``get`` of what is not a dict, a missing attribute or item).
    Each path is resolved once.  Written once per variant: a page fills about a
    hundred fields, and walking the paths and slots generically cost more than the fields' HTML."""
    names: dict = {}
    lines = []

    def var(path) -> str:
        if path in names:
            return names[path]
        if len(path) == 1:
            return {"a": "a", "o": "o", "e": "e"}[path[0]]
        parent = var(path[:-1])
        name = names[path] = f"v{len(names)}"
        op, key, default = path[-1]
        if op == "get":
            lines.append(f"if type({parent}) is not dict: return None")
            lines.append(f"{name} = {parent}.get({key!r}, {default!r})")
        elif op == "attr":
            lines.append(f"{name} = getattr({parent}, {key!r}, MISSING)")
            lines.append(f"if {name} is MISSING or callable({name}): return None")
        else:
            lines.append(f"try: {name} = {parent}[{key!r}]")
            lines.append("except Exception: return None")
        return name

    for path, op, operand, answer in trace:
        v = var(path)
        test = f"bool({v})" if op == "bool" else f"bool({v} == {operand!r})"
        lines.append(f"if {test} is not {answer!r}: return None")
    filled = []
    converts = []
    for name, conversion, path in slots:
        v = var(path)
        if conversion is None:  # {{ value }}
            filled.append(f"{name!r}: escape({v})")
        else:  # {{ helper(value) }}: number_text, growth_of, shown_rows (report/view.py)
            converts.append(conversion)
            filled.append(f"{name!r}: escape(converts[{len(converts) - 1}]({v}))")
    lines.append(f"return fmt % {{{', '.join(filled)}}}")
    source = "def fill(a, o, e):\n" + "".join(f"    {line}\n" for line in lines)
    scope = {"MISSING": _MISSING, "escape": escape, "fmt": fmt, "converts": tuple(converts)}
    exec(compile(source, f"<report field {field.key}>", "exec"), scope)  # noqa: S102 (our own text)
    return scope["fill"]


def _refused(trace, field):
    """A variant written by its macro: a function that says whether its tests hold (True) or not (None)."""
    fill = _compiled(trace, "", (), field)
    return lambda a, o, e: None if fill(a, o, e) is None else True


def _field_html(show, field, section, r, variants, a, o, e) -> str:
    """One field as its kind's ``show`` macro writes it, from a kept skeleton where one applies
    (``variants``: the field's, for the group the field starts in: r.group)."""
    for entry in variants:
        html = entry[2](a, o, e)
        if html is not None:
            break
    else:
        if len(variants) >= MAX_VARIANTS:
            return str(show(field, section, r))
        entry = _record_field(show, field, section, r, variants)
        html = entry[2](a, o, e)
    if entry[3] and html is not None:
        r["group"] = entry[4]  # as {% set r.group = ... %} sets it
        return html
    return str(show(field, section, r))


class BodySlots:
    """The answers while the body's skeleton is written: every field is a slot (shown_field), and
    nothing else of the body may read them."""

    def __init__(self):
        self.slots = []

    def slot(self, what) -> Markup:
        self.slots.append(what)
        return Markup(f"{_FMARK}{len(self.slots) - 1}{_FEND}")

    def get(self, *args):
        raise Unsupported("the body read the answers")

    def __bool__(self):
        raise Unsupported("the body read the answers")


def shown_field(partials, field, section, r):
    """One field of the body (report/_body.html): its kind's partial's ``show``; in the body's
    skeleton, a slot."""
    if type(r.answers) is BodySlots:
        return r.answers.slot((field, section))
    return partials[field.kind_of.template].show(field, section, r)


_paragraph_skeletons = Kept(64)


def paragraphs(macro, text):
    """``macro(text)``: report/_shared.html text_block (a paragraph per line that is not blank,
    each ``<p class="para">`` with the line escaped), written from the macro rendered once with a
    slot for a line; in a field's skeleton, a slot (a narrative is then filled like any value)."""
    if type(text) is Probe:
        return text.slot(lambda value: paragraphs(macro, value))
    if type(text) is not str:
        return macro(text)
    entry = _paragraph_skeletons.get(id(macro))
    if entry is None or entry[0] is not macro:
        one = str(macro(f"{_VMARK}a{_VEND}")).split(f"{_VMARK}a{_VEND}")
        two = str(macro(f"{_VMARK}a{_VEND}\n \n{_VMARK}b{_VEND}"))
        fits = len(one) == 2 and two == f"{one[0]}{_VMARK}a{_VEND}{one[1]}{one[0]}{_VMARK}b{_VEND}{one[1]}" \
            and str(macro("")) == ""
        entry = (macro, tuple(one) if fits else None)
        _paragraph_skeletons.put(id(macro), entry)
    if entry[1] is None:
        return macro(text)
    before, after = entry[1]
    return Markup("".join([f"{before}{escape(line)}{after}" for line in text.split("\n") if line.strip()]))


_RESET = object()  # a slot of the body's skeleton: r.group set to None


def shown_reset(r) -> str:
    """Nothing; in the body's skeleton, the place where a form section sets ``r.group`` to None
    (report/_body.html), so that the fields are filled with the group the macros would see."""
    if type(r.answers) is BodySlots:
        return r.answers.slot((_RESET, None))
    return ""


def shown_appendix(appendix, section, r, blank, paper, ev):
    """The evidence appendix's table of contents (report/_body.html ``appendix``); in the body's
    skeleton, a slot."""
    if type(r.answers) is BodySlots:
        return r.answers.slot((None, section))
    return appendix(section, r, blank, paper, ev)


def _body_skeleton(macro, report, sub, years):
    """written_body with a slot for each field and the appendix, as (format pieces, slots), kept
    per report, years and category; None when it cannot be (then the body is written whole)."""
    category = None if sub is None else (sub.cluster.category, sub.cluster.category_label)
    key = (id(report), getattr(macro, "name", None), tuple(sorted(years.items())), category)
    entry = _body_skeletons.get(key)
    if entry is not None and entry[0] is report:
        return entry[1]
    slots = BodySlots()
    try:
        html = str(macro(report, slots, sub, years, False, None, None, None))
    except Unsupported:
        skeleton = None
    else:
        parts = _SPLIT_FIELDS.split(html)
        shown = []
        for k in parts[1::2]:
            field, section = slots.slots[int(k)]
            shown.append((field, section, None if field is None or field is _RESET else field.kind_of.template))
        # each field's skeletons, by the group it starts in (report/_shared.html form_row: r.group)
        skeleton = (tuple(parts[0::2]), tuple(shown), tuple({} for _ in shown))
        if len(shown) != len(slots.slots):
            skeleton = None
    _body_skeletons.put(key, (report, skeleton))
    return skeleton


def written_body(macro, partials, appendix, report, answers, sub, years, opinion, ev) -> str:
    """The web page's body (not blank, not printed): written_body's text, from the body's skeleton
    and each field's (see above); byte for byte what ``macro`` writes."""
    skeleton = _body_skeleton(macro, report, sub, years) if isinstance(years, dict) else None
    if skeleton is None:
        return str(macro(report, answers, sub, years, False, opinion, ev, None))
    texts, slots, fields = skeleton
    r = Namespace(answers=answers, sub=sub, years=years, blank=False, opinion=opinion, ev=ev, group=None, paper=None)
    out = [texts[0]]
    group = None
    for (field, section, template), by_group, text in zip(slots, fields, texts[1:]):
        if field is _RESET:  # the body's {% set r.group = None %} at a form section's start
            r["group"] = group = None
        elif field is None:
            out.append(str(appendix(section, r, False, None, ev)))
        else:
            variants = by_group.get(group)
            if variants is None:
                with _skeleton_lock:
                    variants = by_group.setdefault(group, [])
            out.append(_field_html(partials[template].show, field, section, r, variants, answers, opinion, ev))
            group = r.group
        out.append(text)
    return "".join(out)
