"""HTTP helpers shared by the views."""
import urllib.parse

from ..evidence.names import ascii_fallback, safe_filename


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """Value for a ``Content-Disposition`` header (RFC 6266 / RFC 5987).

    ``attachment; filename="<ascii fallback>"; filename*=UTF-8''<pct-encoded>``
    Control characters, line breaks and path separators are removed first
    (via :func:`safe_filename`), so the result can never split a header.
    """
    if disposition not in ("attachment", "inline"):
        raise ValueError("disposition must be 'attachment' or 'inline'")
    clean = safe_filename(filename)
    fallback = ascii_fallback(clean)
    encoded = urllib.parse.quote(clean, safe="!#$&+-.^_`|~", encoding="utf-8")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# --------------------------------------------------------------------------
# size limits
# --------------------------------------------------------------------------
