"""Removing active content (JavaScript, actions, attachments) from PDFs: at upload and in the
bound report."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Iterable, Optional, Union

from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

# --------------------------------------------------------------------------
# PDF active content removal
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
_REMOVED_KEYS = (
    "/AA",  # additional actions (document, page, field and annotation triggers)
    "/JS",  # JavaScript code in an action
    "/JavaScript",  # document level JavaScript name tree (in /Names)
    "/EmbeddedFiles",  # attached files (in /Names)
    "/AF",  # associated files (PDF 2.0): the same attachments, from the catalog, pages, annotations
    "/XFA",  # XML forms (can carry scripts) in /AcroForm
)

#: Everything pypdf (and the libraries below it) is known to raise on
#: malformed, truncated or hostile input.  ``DependencyError`` is not a
#: ``PyPdfError`` subclass (raised e.g. for AES without a crypto library).
PDF_ERRORS = (
    PyPdfError,
    DependencyError,
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
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    NotImplementedError,
)


#: Keys whose value is an action: annotation, outline item and form field
#: /A, the catalog's /OpenAction, a link's /PA.  (/Next is handled apart: it
#: may also hold an array of actions.)
_ACTION_KEYS = ("/A", "/OpenAction", "/PA")


def resolve(obj):
    try:
        return obj.get_object() if isinstance(obj, IndirectObject) else obj
    except PDF_ERRORS:
        return None


def _is_bad_action(obj) -> bool:
    """True for an action (found under an action key) that does anything
    but jump inside the document: any /S other than /GoTo, or JavaScript
    code (/JS) under whatever /S.  /Type is ignored.  A dictionary with
    neither /S nor /JS does nothing and is left alone."""
    obj = resolve(obj)
    if not isinstance(obj, DictionaryObject):
        return False
    if "/JS" in obj:
        return True
    s = resolve(obj.get("/S"))
    return s is not None and s not in SAFE_ACTIONS


def _is_stray_action(obj: DictionaryObject) -> bool:
    """A dictionary found anywhere that is recognisably a dangerous action:
    declared /Type /Action with a non-GoTo /S, or a dangerous /S without a
    /Type of its own (dictionaries such as /StructElem or /Group also use /S,
    with other meanings)."""
    s = resolve(obj.get("/S"))
    if s is None:
        return "/JS" in obj
    typ = resolve(obj.get("/Type"))
    if typ == "/Action":
        return s not in SAFE_ACTIONS
    return typ is None and s in DANGEROUS_ACTIONS


def _iter_containers(roots: Iterable) -> Iterable:
    """Yield every dictionary/array reachable from *roots* without following
    indirect references (the roots are all indirect objects of a writer)."""
    stack = [r for r in roots if isinstance(r, (DictionaryObject, ArrayObject))]
    while stack:
        obj = stack.pop()
        yield obj
        values = obj.values() if isinstance(obj, DictionaryObject) else obj
        for v in values:
            if isinstance(v, (DictionaryObject, ArrayObject)):
                stack.append(v)


class _Removed:
    """Counts what was removed and remembers the removed action
    dictionaries, which are emptied at the end."""

    def __init__(self) -> None:
        self.count = 0
        self.actions: list = []

    def action(self, obj) -> bool:
        """Record *obj* if it is a bad action; returns whether it was."""
        if not _is_bad_action(obj):
            return False
        self.actions.append(resolve(obj))
        self.count += 1
        return True


def _drop_removed_keys(d: DictionaryObject, removed: _Removed) -> None:
    for key in _REMOVED_KEYS:
        if key in d:
            del d[key]
            removed.count += 1


def _drop_bad_actions(d: DictionaryObject, removed: _Removed) -> None:
    """Remove /A, /OpenAction and /PA when they hold a bad action."""
    for key in _ACTION_KEYS:
        if key in d and removed.action(d[key]):
            del d[key]


def _trim_next(d: DictionaryObject, removed: _Removed) -> None:
    """Remove bad actions from an action's /Next (one action or an array)."""
    if "/Next" not in d:
        return
    nxt = d["/Next"]
    items = resolve(nxt)
    if isinstance(items, ArrayObject):
        keep = [x for x in items if not removed.action(x)]
        if len(keep) == len(items):
            return
        if keep:
            d[NameObject("/Next")] = ArrayObject(keep)
        else:
            del d["/Next"]
    elif removed.action(nxt):
        del d["/Next"]


def _keep_annotation(annot: DictionaryObject, removed: _Removed) -> bool:
    """Strip an annotation's actions; False if it must go altogether: a
    multimedia/attachment annotation, or a link left without any action or
    destination (it existed only to run the action).  Widgets and other
    annotations stay, minus their actions."""
    if annot.get("/Subtype") in DANGEROUS_ANNOTS:
        removed.count += 1
        return False
    _drop_removed_keys(annot, removed)
    _drop_bad_actions(annot, removed)
    return not (annot.get("/Subtype") == "/Link" and "/A" not in annot and "/Dest" not in annot)


def _clean_annotations(d: DictionaryObject, removed: _Removed) -> None:
    if "/Annots" not in d:
        return
    annots = resolve(d["/Annots"])
    if not isinstance(annots, ArrayObject):
        return
    keep = []
    for ref in annots:
        annot = resolve(ref)
        if isinstance(annot, DictionaryObject) and _keep_annotation(annot, removed):
            keep.append(ref)
    if len(keep) == len(annots):
        return
    if keep:
        annots[:] = keep
    else:
        del d["/Annots"]


def _clean_container(d: DictionaryObject, removed: _Removed) -> None:
    _drop_removed_keys(d, removed)
    _drop_bad_actions(d, removed)
    _trim_next(d, removed)
    _clean_annotations(d, removed)


def sanitize_pdf_objects(objects: Iterable, root: Optional[DictionaryObject] = None) -> int:
    """Remove active content from a set of PDF objects **in place**.

    *objects* should be all indirect objects of a ``PdfWriter``
    (``writer._objects``) – direct sub-dictionaries are visited too.  Returns
    the number of *dangerous* items removed (plain ``/OpenAction`` jumps are
    removed from *root* as well but are not counted).

    Removed: ``/AA`` (document, page, field and annotation additional
    actions), ``/JS``, the ``/JavaScript`` and ``/EmbeddedFiles`` name trees,
    ``/AF`` associated files, ``/AcroForm /XFA``, every action whose ``/S`` is not ``/GoTo`` under
    ``/A``, ``/OpenAction``, ``/PA`` or in ``/Next`` chains (outlines, links,
    widgets, fields, the catalog) whatever its ``/Type`` says, link
    annotations left without any action or destination, and multimedia /
    file attachment annotations.  Internal ``/GoTo`` links and ``/Dest``
    links are kept.
    """
    containers = list(_iter_containers(o for o in objects if o is not None))
    dicts = [c for c in containers if isinstance(c, DictionaryObject)]
    removed = _Removed()
    stray = [d for d in dicts if _is_stray_action(d)]
    for d in dicts:
        _clean_container(d, removed)
    if root is not None and "/OpenAction" in root:
        # Remaining open actions are plain GoTo jumps: harmless, but we drop
        # them too so the rewritten document opens on page 1.
        del root["/OpenAction"]
    # Neutralise the (now unreferenced) action dictionaries themselves so no
    # script text survives even if an orphan object is written out.
    for action in removed.actions + stray:
        if isinstance(action, DictionaryObject):
            action.clear()
    return removed.count


def strip_active_content(
    reader_or_bytes: Union[PdfReader, bytes, bytearray],
    *,
    only_if_needed: bool = False,
) -> Optional[bytes]:
    """Return the PDF re-written without JavaScript and non-GoTo actions.

    Accepts a ``PdfReader`` or the PDF bytes.  With ``only_if_needed=True``
    returns ``None`` when nothing dangerous was found (the caller keeps the
    original bytes, e.g. to preserve digital signatures); otherwise the
    document is always re-written.  Errors from pypdf propagate (callers
    wrap them; :func:`inspect_upload` turns them into UploadRejected).
    """
    if isinstance(reader_or_bytes, (bytes, bytearray, memoryview)):
        reader = PdfReader(io.BytesIO(bytes(reader_or_bytes)), strict=False)
    else:
        reader = reader_or_bytes
    writer = PdfWriter(clone_from=reader)
    objects = writer._objects  # noqa: SLF001 - pypdf has no public iterator
    root = writer._root_object  # noqa: SLF001
    removed = sanitize_pdf_objects(objects, root=None)
    if only_if_needed and removed == 0:
        return None
    if "/OpenAction" in root:
        del root["/OpenAction"]
    if "/Names" in root:
        names = resolve(root["/Names"])
        if isinstance(names, DictionaryObject) and len(names) == 0:
            del root["/Names"]
    # Drop objects that became unreachable (the removed scripts, actions,
    # attachments …).
    drop_unreachable_objects(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def drop_unreachable_objects(writer: PdfWriter) -> int:
    """Remove every object of *writer* that cannot be reached from the
    catalog or the document information; returns how many were removed.

    (pypdf's ``compress_identical_objects(remove_unreferenced=True)`` keeps
    an object that is referenced only by other orphans, e.g. the file behind
    a removed attachment.)
    """
    objects = writer._objects  # noqa: SLF001 - pypdf has no public iterator
    reachable: set = set()
    stack: list = []
    for root in (writer._root_object, getattr(writer, "_info", None)):  # noqa: SLF001
        ref = getattr(root, "indirect_reference", None)
        stack.append(ref if isinstance(ref, IndirectObject) and ref.pdf is writer else root)
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if obj.pdf is not writer or obj.idnum in reachable:
                continue
            reachable.add(obj.idnum)
            obj = objects[obj.idnum - 1] if 0 < obj.idnum <= len(objects) else None
        if isinstance(obj, DictionaryObject):
            stack.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    removed = 0
    for index, obj in enumerate(objects):
        if obj is not None and index + 1 not in reachable:
            objects[index] = None
            removed += 1
    return removed

