"""Removing active content (JavaScript, actions, attachments) from PDFs: at upload and in the
bound report.  Built on pikepdf (qpdf): a document is opened, cleaned in place, and saved; qpdf
writes only the objects still reachable from the catalog, so what was removed (scripts, the
files behind attachments) is not carried along as an orphan."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import Iterator, Optional, Union

import pikepdf
from pikepdf import Array, Dictionary, Name

# Evidence pages are copied without their document's interactive form (/AcroForm): filled fields
# stay visible as widget annotations (their appearance), minus their actions.  pikepdf warns about
# that on every copy and save; it is what we want.
warnings.filterwarnings("ignore", category=pikepdf.PageCopyWarning)

# --------------------------------------------------------------------------
# the policy
# --------------------------------------------------------------------------
#
# An action is judged by its /S (the action type) and by where it hangs,
# never by /Type: /Type is optional for actions and viewers (pdf.js, Acrobat)
# run ``<< /Type /Foo /S /Launch … >>`` just the same.

#: The only action kept: a jump to a destination inside the same document.
#: Every other /S found where an action is expected is removed, including
#: unknown ones.
SAFE_ACTIONS = frozenset({"/GoTo"})

#: Action types that are removed wherever a dictionary carrying them is
#: found, even away from an action key (defence in depth).  Everything here
#: either runs code, opens external resources or files, submits or imports
#: data, changes the form or the displayed document, or plays multimedia.
DANGEROUS_ACTIONS = frozenset(
    "/" + s
    for s in (
        "JavaScript", "Launch", "SubmitForm", "ImportData", "ResetForm",
        "GoToR", "GoToE", "GoToDp", "URI", "Sound", "Movie", "Hide", "Named",
        "SetOCGState", "Rendition", "Trans", "GoTo3DView", "RichMediaExecute",
        "Thread", "ECMAScript",
    )
)

#: Annotation subtypes removed outright (multimedia, embedded files, 3D).
DANGEROUS_ANNOTS = frozenset(
    ("/Screen", "/Movie", "/Sound", "/FileAttachment", "/RichMedia", "/3D")
)

#: Keys removed from any dictionary in which they appear.
REMOVED_KEYS = (
    "/AA",  # additional actions (document, page, field and annotation triggers)
    "/JS",  # JavaScript code in an action
    "/JavaScript",  # document level JavaScript name tree (in /Names)
    "/EmbeddedFiles",  # attached files (in /Names)
    "/AF",  # associated files (PDF 2.0): the same attachments, from the catalog, pages, annotations
    "/XFA",  # XML forms (can carry scripts) in /AcroForm
)

#: Keys whose value is an action: annotation, outline item and form field
#: /A, the catalog's /OpenAction, a link's /PA.  (/Next is handled apart: it
#: may also hold an array of actions.)
ACTION_KEYS = ("/A", "/OpenAction", "/PA")

#: Everything pikepdf, qpdf and the libraries below them are known to raise on
#: malformed, truncated or hostile input (``PasswordError`` is a ``PdfError``).
PDF_ERRORS = (
    pikepdf.PdfError,
    pikepdf.DataDecodingError,
    pikepdf.ForeignObjectError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
    AssertionError,
    ZeroDivisionError,
    OverflowError,
    UnicodeError,
    LookupError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
)


def resolve(obj):
    """*obj* itself (pikepdf follows indirect references on access); None if it cannot be read."""
    try:
        return None if obj is None or isinstance(obj, pikepdf.Object) and obj.is_null else obj
    except PDF_ERRORS:
        return None


def name_of(obj) -> Optional[str]:
    """``'/Foo'`` for a name object, else None."""
    return str(obj) if isinstance(obj, Name) else None


# --------------------------------------------------------------------------
# walking a document
# --------------------------------------------------------------------------

def _containers(pdf: pikepdf.Pdf) -> Iterator[Union[Dictionary, Array]]:
    """Every dictionary and array of *pdf*: each indirect object (streams by their dictionary)
    and, inside it, every direct sub-dictionary and sub-array."""
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            stack = [obj.stream_dict]
        elif isinstance(obj, (Dictionary, Array)):
            stack = [obj]
        else:
            continue
        while stack:
            item = stack.pop()
            yield item
            values = item.values() if isinstance(item, Dictionary) else item
            stack.extend(v for v in values if isinstance(v, (Dictionary, Array)) and not v.is_indirect)


def _is_bad_action(obj) -> bool:
    """True for an action (found under an action key) that does anything
    but jump inside the document: any /S other than /GoTo, or JavaScript
    code (/JS) under whatever /S.  /Type is ignored.  A dictionary with
    neither /S nor /JS does nothing and is left alone."""
    if not isinstance(obj, Dictionary):
        return False
    if "/JS" in obj:
        return True
    s = obj.get("/S")
    return s is not None and name_of(s) not in SAFE_ACTIONS


def _is_stray_action(d: Dictionary) -> bool:
    """A dictionary found anywhere that is recognisably a dangerous action:
    declared /Type /Action with a non-GoTo /S, or a dangerous /S without a
    /Type of its own (dictionaries such as /StructElem or /Group also use /S,
    with other meanings)."""
    s = d.get("/S")
    if s is None:
        return "/JS" in d
    typ = d.get("/Type")
    if name_of(typ) == "/Action":
        return name_of(s) not in SAFE_ACTIONS
    return typ is None and name_of(s) in DANGEROUS_ACTIONS


class _Removed:
    """Counts what was removed and remembers the removed action dictionaries,
    which are emptied at the end (an orphan keeps no script text)."""

    def __init__(self) -> None:
        self.count = 0
        self.actions: list = []

    def action(self, obj) -> bool:
        """Record *obj* if it is a bad action; returns whether it was."""
        if not _is_bad_action(obj):
            return False
        self.actions.append(obj)
        self.count += 1
        return True


def _drop_keys(d: Dictionary, removed: _Removed) -> None:
    for key in REMOVED_KEYS:
        if key in d:
            del d[key]
            removed.count += 1


def _drop_bad_actions(d: Dictionary, removed: _Removed) -> None:
    """Remove /A, /OpenAction and /PA when they hold a bad action."""
    for key in ACTION_KEYS:
        if key in d and removed.action(d[key]):
            del d[key]


def _trim_next(d: Dictionary, removed: _Removed) -> None:
    """Remove bad actions from an action's /Next (one action or an array)."""
    nxt = d.get("/Next")
    if nxt is None:
        return
    if isinstance(nxt, Array):
        keep = [x for x in nxt if not removed.action(x)]
        if len(keep) == len(nxt):
            return
        if keep:
            d.Next = Array(keep)
        else:
            del d["/Next"]
    elif removed.action(nxt):
        del d["/Next"]


def _keep_annotation(annot: Dictionary, removed: _Removed) -> bool:
    """Strip an annotation's actions; False if it must go altogether: a
    multimedia/attachment annotation, or a link left without any action or
    destination (it existed only to run the action).  Widgets and other
    annotations stay, minus their actions."""
    subtype = name_of(annot.get("/Subtype"))
    if subtype in DANGEROUS_ANNOTS:
        removed.count += 1
        return False
    _drop_keys(annot, removed)
    _drop_bad_actions(annot, removed)
    return not (subtype == "/Link" and "/A" not in annot and "/Dest" not in annot)


def _clean_annotations(d: Dictionary, removed: _Removed) -> None:
    annots = d.get("/Annots")
    if not isinstance(annots, Array):
        return
    keep = [a for a in annots if isinstance(a, Dictionary) and _keep_annotation(a, removed)]
    if len(keep) == len(annots):
        return
    if keep:
        d.Annots = Array(keep)
    else:
        del d["/Annots"]


def sanitize_pdf(pdf: pikepdf.Pdf) -> int:
    """Remove active content from *pdf* **in place**; returns the number of
    dangerous items removed.

    Removed: ``/AA`` (document, page, field and annotation additional
    actions), ``/JS``, the ``/JavaScript`` and ``/EmbeddedFiles`` name trees,
    ``/AF`` associated files, ``/AcroForm /XFA``, every action whose ``/S`` is not ``/GoTo`` under
    ``/A``, ``/OpenAction``, ``/PA`` or in ``/Next`` chains (outlines, links,
    widgets, fields, the catalog) whatever its ``/Type`` says, link
    annotations left without any action or destination, and multimedia /
    file attachment annotations.  Internal ``/GoTo`` links and ``/Dest``
    links are kept.  A remaining ``/OpenAction`` (a plain jump) is dropped too,
    uncounted, so that the document opens on its first page.
    """
    dicts = [c for c in _containers(pdf) if isinstance(c, Dictionary)]
    removed = _Removed()
    stray = [d for d in dicts if _is_stray_action(d)]
    for d in dicts:
        _drop_keys(d, removed)
        _drop_bad_actions(d, removed)
        _trim_next(d, removed)
        _clean_annotations(d, removed)
    root = pdf.Root
    if "/OpenAction" in root:
        del root["/OpenAction"]
    names = root.get("/Names")
    if isinstance(names, Dictionary) and len(names.keys()) == 0:
        del root["/Names"]
    for action in removed.actions + stray:
        if isinstance(action, Dictionary):
            for key in list(action.keys()):
                del action[key]
    return removed.count


def open_pdf(source) -> pikepdf.Pdf:
    """*source* (bytes, a binary file or a path) opened with pikepdf; PDF_ERRORS on bad input."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    return pikepdf.open(source)


def save_pdf(pdf: pikepdf.Pdf, out=None) -> bytes:
    """*pdf* written (compressed, object streams) to *out*, or returned as bytes."""
    target = out if out is not None else io.BytesIO()
    pdf.save(target, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return b"" if out is not None else target.getvalue()


def strip_active_content(source, *, only_if_needed: bool = False) -> Optional[bytes]:
    """Return the PDF re-written without JavaScript and non-GoTo actions.

    *source*: the PDF's bytes, a ``pikepdf.Pdf``, or any reader object with a
    binary ``stream`` attribute (for instance a pypdf ``PdfReader``).  With
    ``only_if_needed=True`` returns ``None`` when nothing dangerous was found
    (the caller keeps the original bytes, e.g. to preserve digital
    signatures); otherwise the document is always re-written.  Errors from
    pikepdf propagate (callers wrap them; :func:`inspect_upload` turns them
    into UploadRejected).
    """
    if isinstance(source, pikepdf.Pdf):
        return _strip(source, only_if_needed)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        stream = source.stream
        stream.seek(0)
        source = stream.read()
    with open_pdf(source) as pdf:
        return _strip(pdf, only_if_needed)


def _strip(pdf: pikepdf.Pdf, only_if_needed: bool) -> Optional[bytes]:
    if sanitize_pdf(pdf) == 0 and only_if_needed:
        return None
    return save_pdf(pdf)
