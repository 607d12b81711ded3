"""The placement plan as a PDF, to file or send: its sections in order, with the version, its state and who
wrote it, on A4.

Written with fpdf2 (pure Python, maintained) in DejaVu Sans, the font matplotlib already ships, so every
character a social worker types (accents, dashes, any script DejaVu holds) prints as typed, with no system font
needed."""

from __future__ import annotations

from pathlib import Path

from matching.decisions.plan import PlanVersion

#: A4 in millimetres, and the margin.
MARGIN = 18


def _font_folder() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def plan_pdf(plan: PlanVersion, *, child_id: str, household_id: str | None, when: str) -> bytes:
    """The plan as PDF bytes: a title, the child and the household by id, the version and its state, then each
    section's heading and text.  ``when`` is the version's date in words."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    fonts = _font_folder()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"Placement plan, decision {plan.decision_id}")
    pdf.set_creator("placement-matching")
    pdf.add_page()
    width = pdf.w - 2 * MARGIN
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(width, 9, "Placement plan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    state = "agreed" if plan.agreed else "draft"
    version = "the generated draft (not yet saved)" if plan.version == 0 else f"version {plan.version}"
    lines = [
        f"Child {child_id}" + (f", carers' household {household_id}" if household_id else ""),
        f"Decision {plan.decision_id}; {version}, {state}, written by {plan.edited_by}"
        + (f" on {when}" if when else ""),
        "Care Planning, Placement and Case Review (England) Regulations 2010, regulation 9; "
        "Fostering National Minimum Standard 15.",
    ]
    for line in lines:
        pdf.multi_cell(width, 5.5, line, new_x="LMARGIN", new_y="NEXT")
    for section in plan.sections:
        pdf.ln(4)
        pdf.set_font("DejaVu", "B", 13)
        pdf.multi_cell(width, 7, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 10.5)
        pdf.multi_cell(width, 5.5, section.text or "(empty)", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
