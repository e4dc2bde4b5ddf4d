"""The report definition as JSON (``flask --app wizard schema``); format in docs/report-format.md."""
from .definition import get_report
from .model import fill_years

DEFAULT_YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}


def _field(field, section, years):
    out = {
        "key": field.key, "label": fill_years(field.label, years), "type": field.kind, "unit": field.unit,
        "section": section.number or None, "section_title": section.title or None,
        "evidence": field.evidence, "max_chars": field.max_chars, "category": field.category,
        "required": field.required, "group": field.group, "note": field.note, "guidance": field.guidance,
    }
    out.update(field.kind_of.schema(field, section, years))
    return out


def report_schema(round_: str, years: dict | None = None) -> dict:
    years = years or DEFAULT_YEARS
    report = get_report(round_)
    return {
        "round": round_, "title": report.title,
        "years": {"data": [years["y1"], years["y2"]], "targets": [years["t1"], years["t2"], years["t3"]]},
        "steps": [
            {"key": step.key, "title": step.title,
             "fields": [_field(f, s, years) for s in step.sections for f in s.fields]}
            for step in report.steps
        ],
    }
