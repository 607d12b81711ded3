"""Render the data contract as Markdown (``docs/data-format.md`` is this function's output)."""

from __future__ import annotations

from matching.contract.spec import (
    FILES,
    FUTURE_DATES_ALLOWED,
    KIND_HELP,
    TAXONOMY_COURSES,
    TAXONOMY_NEEDS,
    TAXONOMY_NEEDS_AND_RISKS,
    Column,
)
from matching.taxonomy import Taxonomy, load_taxonomy

_INTRO = """# Data format: the files a local authority or agency brings

<!-- Generated from src/matching/contract/spec.py by `matching contract-docs`; do not edit by hand. -->

A data folder holds one UTF-8 CSV file per table below, with a header row naming the columns
(any order; unknown columns are ignored with a warning).  `matching validate DIR` checks a folder
and lists **every** problem at once (file, row, column, value, what was expected);
`matching import DIR` runs the same checks and imports **all or nothing** in one transaction.
Importing the same files twice changes nothing: entity tables are upserted by their id, and the
detail tables (`child_needs`, `sdq_scores`, `carer_training`, `placements`, `progress_records`,
`missing_episodes`) are replaced for each child or
household present in the import.  Rows an import does not mention are left as they are.

General rules:

* Empty cell = not known.  Required columns must be present and filled on every row.
* Row numbers in messages count the header as row 1 (as a spreadsheet shows them).
* Dates are `YYYY-MM-DD` (SSDA903's `dd/mm/YYYY` is accepted too) and may not be in the future,
  except `carer_training.expires_on`.  Dates of birth are months (`YYYY-MM`).
* Locations are national grid eastings/northings in metres of the postcode **sector** centroid
  (never a full postcode); distances follow the DfE formula: grid distance / 1000 / 1.6093 miles.
* Coded columns use the SSDA903 code lists (collection year 2025-26) and the Placements Standard
  v2 vocabulary; need domains and courses come from the taxonomy in force
  (`data/taxonomy/needs_skills.yaml` by default).
* Files larger than 512 MiB are refused before they are read; split them.
* Never put names, addresses, full dates of birth or free text that identifies a child in these files.

Rules that span rows and files: ids are unique; every reference (`la_code`, `agency_code`,
`household_id`, `child_id`, `connected_child_ids`) points at a row in the file named; a
`sibling_group_id` is shared by at least two children; a `household_id` on a child only with a
foster placement (U1-U6); supported accommodation (K3) only from the 16th birthday; no household
has more foster children than approved places, nor more than 3 unless they are all siblings or
`usual_limit_exemption` is true; an ended placement has an `end_reason` and an open one has none;
at most one open placement per child; `approved_age_min` <= `approved_age_max`.
"""


def _allowed(column: Column, taxonomy: Taxonomy) -> str:
    if column.allowed == TAXONOMY_NEEDS:
        return "taxonomy need: " + ", ".join(f"`{n}`" for n in taxonomy.need_ids)
    if column.allowed == TAXONOMY_COURSES:
        return "taxonomy course: " + ", ".join(f"`{c}`" for c in taxonomy.course_ids)
    if column.allowed == TAXONOMY_NEEDS_AND_RISKS:
        return "a taxonomy need or a risk code (risks to child / to others)"
    if isinstance(column.allowed, tuple):
        return ", ".join(f"`{v}`" for v in column.allowed)
    parts = []
    if column.minimum is not None or column.maximum is not None:
        parts.append(
            f"{column.minimum:g} to {column.maximum:g}"
            if column.minimum is not None and column.maximum is not None
            else f">= {column.minimum:g}"
            if column.minimum is not None
            else f"<= {column.maximum:g}"
        )
    if column.references:
        parts.append(f"a `{column.references[1]}` in `{column.references[0]}.csv`")
    return "; ".join(parts)


def render_markdown(taxonomy: Taxonomy | None = None) -> str:
    """The whole data-format document."""
    taxonomy = taxonomy or load_taxonomy()
    out = [_INTRO]
    out.append("\n## Column types\n\n| type | meaning |\n|---|---|\n")
    out.extend(f"| {k} | {v} |\n" for k, v in KIND_HELP.items())
    for spec in FILES:
        req = "required" if spec.required_file else "optional"
        out.append(
            f"\n## `{spec.filename}` ({req})\n\n{spec.description}  Key: {' + '.join(f'`{k}`' for k in spec.key)}.\n\n"
        )
        out.append("| column | type | required | unit | allowed values | default | description |\n")
        out.append("|---|---|---|---|---|---|---|\n")
        for c in spec.columns:
            desc = c.description
            if (spec.name, c.name) in FUTURE_DATES_ALLOWED:
                desc += " (may be in the future)"
            out.append(
                f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {c.unit or ''} | "
                f"{_allowed(c, taxonomy)} | {'' if c.default is None else f'`{c.default}`'} | {desc} |\n"
            )
    return "".join(out)
