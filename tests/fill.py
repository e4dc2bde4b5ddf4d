"""A complete, consistent preliminary report as the web forms would post it, step by step."""
import functools
import json
from wizard.report.definition import get_report


def _value_for(field, key):
    if field.unit == "%":
        return "12.5" if key in ("y1", "base") else "13.7"
    if field.integer:
        return {"y1": "120", "y2": "150", "y1_total": "200", "y1_cluster": "120", "y2_total": "240",
                "y2_cluster": "150", "base": "150", "t1": "170", "t2": "190", "t3": "210"}.get(key, "100")
    return {"y1": "100", "y2": "125.5", "y1_total": "300", "y1_cluster": "100", "y2_total": "360",
            "y2_cluster": "125.5", "base": "125.5", "t1": "140", "t2": "160", "t3": "180"}.get(key, "100")


SPECIAL = {
    # consistent figures where the checks compare indicators
    ("employees", "y1"): "20000", ("employees", "y2"): "25000",
    ("invention_patents", "y1"): "100", ("invention_patents", "y2"): "150",
    ("patents_per_10k", "y1"): "50", ("patents_per_10k", "y2"): "60",
    ("rd_funds", "y1"): "10", ("rd_funds", "y2"): "12",
    ("rd_growth", "y1"): "8", ("rd_growth", "y2"): "20",
    ("enterprises", "y1"): "300", ("enterprises", "y2"): "320",
    ("revenue", "y1"): "500", ("revenue", "y2"): "600",
}


def step_data(round_, step_key, category="advanced", version=None):
    """Form data that fills every applicable field of one step."""
    step = get_report(round_).step(step_key)
    data = {}
    for f in step.fields:
        if not f.applies_to(category):
            continue
        if f.kind == "text":
            data[f.key] = f"{f.name}示例"
        elif f.kind == "phone":
            data[f.key] = "0731-88888888"
        elif f.kind == "longtext":
            data[f.key] = f"{f.name}：集群发展良好。" * 5
        elif f.kind in ("indicator", "park_indicator", "target"):
            for k in f.value_keys:
                data[f"{f.key}-{k}"] = SPECIAL.get((f.key, k), _value_for(f, k))
        elif f.kind == "table":
            for c in f.columns:
                if c.kind == "number":
                    v = "12.5" if c.percent else "10"
                elif c.kind == "level":
                    v = "国家级"
                else:
                    v = f"{c.label}一"
                data[f"{f.key}-0-{c.key}"] = v
        elif f.kind == "agree":
            data[f.key] = "y"
    if version is not None:
        data["version"] = str(version)
    return data


@functools.lru_cache(maxsize=None)
def _complete(round_, category):
    return json.dumps(_build_complete(round_, category))


def complete_answers(round_="preliminary", category="advanced"):
    """A complete answers document, built through the web forms (needs an app context)."""
    return json.loads(_complete(round_, category))


def _build_complete(round_, category):
    from werkzeug.datastructures import MultiDict

    from wizard.report.forms import form_to_answers, make_step_form

    years = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}
    answers = {}
    for step in get_report(round_).steps:
        form = make_step_form(round_, step.key, category, years,
                              formdata=MultiDict(step_data(round_, step.key, category)), meta={"csrf": False})
        assert form.validate(), form.errors
        answers.update(form_to_answers(form))
    return answers
