"""The base of the app's own forms (login, accounts, clusters, deadlines): WTForms'
built-in messages in Chinese, and every text field cleaned of control characters
(PostgreSQL refuses NUL; nothing else of the kind belongs in stored text), bidi controls
(a right-to-left override makes text display other than it reads) and zero-width
characters.  The report's forms clean their text fields with the same ``clean_text``."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.fields.core import UnboundField

from ..text import clean_text


def _clean_line(value):
    return clean_text(value) if isinstance(value, str) else value


def _clean_text(value):
    return clean_text(value, multiline=True) if isinstance(value, str) else value


class AppForm(FlaskForm):
    class Meta:
        locales = ("zh",)  # used because WTF_I18N_ENABLED is off (no Flask-Babel)

        def bind_field(self, form, unbound_field, options):
            cls = unbound_field.field_class
            if issubclass(cls, StringField) and not issubclass(cls, PasswordField):
                cleaner = _clean_text if issubclass(cls, TextAreaField) else _clean_line
                kwargs = dict(unbound_field.kwargs)
                kwargs["filters"] = [cleaner, *kwargs.get("filters", ())]
                unbound_field = UnboundField(cls, *unbound_field.args, name=unbound_field.name, **kwargs)
            return super().bind_field(form, unbound_field, options)
