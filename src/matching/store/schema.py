"""The store's tables: one per contract file, the import audit trail, accounts and the access audit trail, and
the model artefacts the store trusts.

Tables are derived from the data contract (``matching.contract.spec``) so a column cannot be
added to one and forgotten in the other.  Changes to the schema still go through an Alembic
migration (``matching/store/migrations``); a test checks the migrations produce exactly this
metadata.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from matching.contract.spec import FILES, FileSpec
from matching.contract.spec import Column as SpecColumn

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

#: Contract file name -> table name (singular, as the domain speaks).
TABLE_NAMES: dict[str, str] = {
    "local_authorities": "local_authority",
    "agencies": "agency",
    "households": "household",
    "children": "child",
    "child_needs": "child_need",
    "sdq_scores": "sdq_score",
    "referrals": "referral",
    "household_members": "household_member",
    "carer_training": "carer_training",
    "placements": "placement",
    "progress_records": "progress_record",
    "missing_episodes": "missing_episode",
}


def _sql_type(column: SpecColumn) -> TypeEngine[Any]:
    kind = column.kind
    if kind in ("id", "code"):
        return String(64)
    if kind == "text":
        return Text()
    if kind == "int":
        return Integer()
    if kind == "float":
        return Float()
    if kind == "bool":
        return Boolean()
    if kind in ("date", "month"):
        return Date()
    return JSON()


def _table(spec: FileSpec) -> Table:
    cols: list[Any] = []
    # A key with an optional column (a dated history where the date may be missing) cannot be a primary
    # key: the contract checks its uniqueness, and the table is indexed by its first column instead.
    required = {c.name for c in spec.columns if c.required}
    pk = spec.key if set(spec.key) <= required else ()
    for c in spec.columns:
        args: list[Any] = []
        if c.references is not None:
            target_file, target_col = c.references
            args.append(ForeignKey(f"{TABLE_NAMES[target_file]}.{target_col}"))
        cols.append(
            Column(
                c.name,
                _sql_type(c),
                *args,
                primary_key=c.name in pk,
                nullable=not (c.required or c.name in pk),
            )
        )
    if spec.name == "placements":
        cols.append(Column("unplanned", Boolean(), nullable=True, comment="end_reason is an unplanned ending"))
    if spec.name == "children":
        # Set by the SSDA903 import from the last episode; a child who ceased is never placed or waiting.
        cols.append(Column("ceased", Date(), nullable=True))
        cols.append(Column("reason_ceased", String(64), nullable=True))
    if not pk:
        cols.append(Index(f"ix_{TABLE_NAMES[spec.name]}_{spec.key[0]}", spec.key[0]))
    return Table(TABLE_NAMES[spec.name], metadata, *cols, comment=spec.description)


TABLES: dict[str, Table] = {spec.name: _table(spec) for spec in FILES}

local_authority = TABLES["local_authorities"]
agency = TABLES["agencies"]
household = TABLES["households"]
child = TABLES["children"]
child_need = TABLES["child_needs"]
sdq_score = TABLES["sdq_scores"]
referral = TABLES["referrals"]
household_member = TABLES["household_members"]
carer_training = TABLES["carer_training"]
placement = TABLES["placements"]
progress_record = TABLES["progress_records"]
missing_episode = TABLES["missing_episodes"]

import_run = Table(
    "import_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("rows", JSON, nullable=False),
    comment="Audit trail: every successful import and what it brought.",
)

ssda903_child = Table(
    "ssda903_child",
    metadata,
    Column("la_code", String(64), ForeignKey("local_authority.la_code"), primary_key=True),
    Column("child", String(64), primary_key=True, comment="SSDA903 CHILD, unique only within its authority"),
    Column("child_id", String(64), ForeignKey("child.child_id"), nullable=False, unique=True),
    comment="Which store child an authority's SSDA903 CHILD is: a child from a 903 return is identified by "
    "(authority, CHILD), so two authorities' children never meet.",
)

Index("ix_child_la_code", child.c.la_code)
Index("ix_child_household_id", child.c.household_id)
Index("ix_household_agency_code", household.c.agency_code)
Index("ix_household_la_code", household.c.la_code)
Index("ix_placement_child_id", placement.c.child_id)
Index("ix_placement_household_id", placement.c.household_id)
Index("ix_referral_child_id", referral.c.child_id)
Index("ix_household_member_household_id", household_member.c.household_id)

# --- accounts, credentials and the access audit trail (issue 16; logic in matching.accounts and matching.audit) ---

user_account = Table(
    "user_account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True, comment="lower case; how the person signs in"),
    Column("display_name", Text, nullable=False),
    Column("role", String(32), nullable=False, comment="matching.access.Role code"),
    Column("la_codes", JSON, nullable=False, comment="remit: local authorities whose children they may see"),
    Column("agency_codes", JSON, nullable=False, comment="remit: agencies whose households they may see"),
    Column("disabled", Boolean, nullable=False),
    Column("password_hash", Text, nullable=True, comment="argon2id; none for single sign-on only accounts"),
    Column("external_id", String(255), nullable=True, unique=True, comment="single sign-on subject (issuer|id)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True), nullable=True),
    comment="People who may sign in: role and remit (never a child's data).",
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("user_account.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True, comment="the token itself is never stored"),
    Column("scopes", JSON, nullable=False, comment="permission codes, a subset of the role's"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_token_user_id", "user_id"),
    comment="Bearer tokens for API clients, stored as SHA-256 hashes.",
)

web_session = Table(
    "web_session",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("user_account.id"), nullable=False),
    Column("session_sha256", String(64), nullable=False, unique=True, comment="the cookie value is never stored"),
    Column("method", String(16), nullable=False, comment="how they signed in: password or oidc"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_web_session_user_id", "user_id"),
    comment="Signed-in sessions of the pages (server side; idle and absolute timeouts).",
)

sign_in_failure = Table(
    "sign_in_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("username", String(64), nullable=False, comment="as typed (lower case), known or not"),
    Column("address", String(64), nullable=False),
    Index("ix_sign_in_failure_username_at", "username", "at"),
    Index("ix_sign_in_failure_address_at", "address", "at"),
    comment="Failed sign-ins, for throttling per account and per address (older rows are pruned).",
)

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False, comment="1, 2, 3, ... without gaps"),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", Integer, nullable=True, comment="none for a system job"),
    Column("username", String(64), nullable=False),
    Column("role", String(32), nullable=True),
    Column("action", String(200), nullable=False, comment="what was done, or the route"),
    Column("detail", Text, nullable=True, comment="what it was done to, other than children (never a child's data)"),
    Column("child_ids", JSON, nullable=False, comment="the children whose records were touched"),
    Column("purpose", Text, nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("prev_sha256", String(64), nullable=False),
    Column("entry_sha256", String(64), nullable=False, unique=True),
    comment="Append-only audit trail of access; each entry chained to the previous by SHA-256.",
)

audit_child = Table(
    "audit_child",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("seq", Integer, ForeignKey("audit_entry.seq"), primary_key=True),
    comment="Index of the audit trail by child (checked against the chained entries by verify).",
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("entry_sha256", String(64), nullable=False),
    comment="The audit trail's last entry (one row): appends lock it, verify checks no tail was cut.",
)

# --- durable jobs (issue 17; logic in matching.jobs) ---

job = Table(
    "job",
    metadata,
    Column("id", String(32), primary_key=True, comment="random hex: what the API calls the job's id"),
    Column("kind", String(32), nullable=False, comment="allocation or sufficiency"),
    Column("owner_id", Integer, ForeignKey("user_account.id"), nullable=False, comment="who started it"),
    Column("owner_username", String(64), nullable=False),
    Column("area", JSON, nullable=False, comment="the authorities it covers: readable while they are in remit"),
    Column("parameters", JSON, nullable=False, comment="what to run (the request, the scope it was allowed)"),
    Column("direct", Boolean, nullable=False, comment="an answer a request is waiting for (not kept)"),
    Column("state", String(16), nullable=False, comment="queued, running, done, failed, cancelled, interrupted"),
    Column("progress", Integer, nullable=False, comment="percent"),
    Column("stage", String(200), nullable=False),
    Column("result", JSON, nullable=True, comment="when done; deleted with the job when it expires"),
    Column("error", Text, nullable=True, comment="why it failed, in plain words (never the input)"),
    Column("runner", String(200), nullable=True, comment="the process running it (host:pid:token)"),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True, comment="its runner was last alive"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True, comment="deleted after this (set when it ends)"),
    Index("ix_job_state_created_at", "state", "created_at"),
    Index("ix_job_owner_id_state", "owner_id", "state"),
    Index("ix_job_expires_at", "expires_at"),
    comment="Long work behind the API (allocation and sufficiency jobs): queued, run, and kept until they expire.",
)

# --- model artefacts the store trusts to be unpickled (issue 17; logic in matching.stability.trust) ---

trusted_model_artefact = Table(
    "trusted_model_artefact",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False, comment="stability or step_down"),
    Column("version", String(100), nullable=False),
    Column("model_sha256", String(64), nullable=False, comment="SHA-256 of model.joblib, the file unpickled"),
    Column("metadata_sha256", String(64), nullable=False, comment="SHA-256 of metadata.json"),
    Column("trusted_by", String(64), nullable=False),
    Column("trusted_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True, comment="how: trained from this store, or trusted from a folder"),
    Column("revoked_by", String(64), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True, comment="once set, never cleared"),
    Index("ix_trusted_model_artefact_model_sha256", "model_sha256"),
    comment="Model artefacts this store trusts to be unpickled, by digest: recorded by `matching train` and "
    "`matching models trust`, never read from the models folder itself.",
)

# --- decisions on referrals (issue 20; logic in matching.decisions) ---

recommendation_snapshot = Table(
    "recommendation_snapshot",
    metadata,
    Column("sha256", String(64), primary_key=True, comment="SHA-256 of the canonical JSON of the payload"),
    Column("referral_id", String(64), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False, comment="exactly what was shown: ranking, scores, explanations, versions"),
    Index("ix_recommendation_snapshot_referral_id", "referral_id"),
    comment="What the service showed when a decision was made, immutable (append-only) and addressed by its hash.",
)

placement_decision = Table(
    "placement_decision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), nullable=False),
    Column("snapshot_sha256", String(64), ForeignKey("recommendation_snapshot.sha256"), nullable=False),
    Column("outcome", String(32), nullable=False, comment="household_chosen or no_household"),
    Column("household_id", String(64), nullable=True),
    Column("best_ranked_household_id", String(64), nullable=True, comment="first in the snapshot, if any"),
    Column("departs_from_ranking", Boolean, nullable=False, comment="not the best-ranked, or not ranked at all"),
    Column("named_officer", Text, nullable=False, comment="the officer who decided, by name and job title"),
    Column("reason_codes", JSON, nullable=False),
    Column("reason_text", Text, nullable=True),
    Column("accepted_warnings", JSON, nullable=False, comment="warning codes of the chosen household accepted"),
    Column("recorded_by_user_id", Integer, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_placement_decision_referral_id", "referral_id"),
    comment="Decisions on referrals by a named officer, each linked to the snapshot of what was shown; append-only "
    "(a changed mind is a new decision).",
)

placement_outcome = Table(
    "placement_outcome",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("placement_decision.id"), nullable=False),
    Column("kind", String(16), nullable=False, comment="started, ended or not_started"),
    Column("on_date", Date, nullable=False, comment="the day the placement started or ended, or was given up"),
    Column("reason_code", String(32), nullable=True, comment="ended: an SSDA903 REC code; not_started: why"),
    Column("reason_text", Text, nullable=True),
    Column("recorded_by_user_id", Integer, nullable=True, comment="None when read from an SSDA903 import"),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False, server_default="recorded", comment="recorded or ssda903"),
    Index("ix_placement_outcome_decision_id", "decision_id"),
    comment="What happened after a decision: the placement started, ended, or never started; append-only (a "
    "correction is a new row of the same kind, which supersedes the earlier).",
)

# --- referrals as the service's records, sent to fostering services, answered by carers, planned (issue 20) ---

referral_history = Table(
    "referral_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False, comment="created, updated or status"),
    Column("status_from", String(16), nullable=True),
    Column("status_to", String(16), nullable=True),
    Column("fields", JSON, nullable=False, comment="names of the fields changed (never their values)"),
    Column("reason_code", String(32), nullable=True, comment="why the status changed (a code)"),
    Column("changed_by_user_id", Integer, nullable=True, comment="None for an import or a system job"),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_referral_history_referral_id", "referral_id"),
    comment="Who created a referral, changed it or moved its status, and when; append-only.",
)

referral_sent = Table(
    "referral_sent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), nullable=False),
    Column("agency_code", String(64), ForeignKey("agency.agency_code"), nullable=False),
    Column("suitable_households", Integer, nullable=False, comment="households of the service ranked when sent"),
    Column("sent_by_user_id", Integer, nullable=False),
    Column("sent_by", String(64), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Index("ix_referral_sent_referral_id", "referral_id"),
    Index("ix_referral_sent_agency_code", "agency_code"),
    comment="A referral sent to a fostering service (in-house or an agency); append-only, once per service.",
)

carer_answer = Table(
    "carer_answer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), nullable=False),
    Column("household_id", String(64), ForeignKey("household.household_id"), nullable=False),
    Column("agency_code", String(64), nullable=False),
    Column("answer", String(24), nullable=False, comment="agreed (an offer), more_information or declined"),
    Column("reason_code", String(32), nullable=True, comment="declined: a reason from the list"),
    Column("reason_text", Text, nullable=True),
    Column("recorded_by_user_id", Integer, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_carer_answer_referral_id", "referral_id"),
    comment="A carer household's answer to a referral sent to its service (agreed to be put forward = an offer); "
    "append-only, the latest answer of a household stands.",
)

will_not_consider_suggestion = Table(
    "will_not_consider_suggestion",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(64), ForeignKey("household.household_id"), nullable=False),
    Column("code", String(64), nullable=False, comment="need or risk code to add to will_not_consider"),
    Column("answer_id", Integer, ForeignKey("carer_answer.id"), nullable=False),
    Column("state", String(16), nullable=False, comment="pending, confirmed or rejected"),
    Column("decided_by_user_id", Integer, nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Index("ix_will_not_consider_suggestion_household_id", "household_id"),
    comment="A decline that names a need, offered to the fostering service as an addition to the carers' "
    "'will not consider' list; applied only when the service confirms it.",
)

placement_plan = Table(
    "placement_plan",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("placement_decision.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False, comment="draft or agreed"),
    Column("sections", JSON, nullable=False, comment="the plan's sections, as written"),
    Column("edited_by_user_id", Integer, nullable=True, comment="None for the generated first draft"),
    Column("edited_by", String(64), nullable=False),
    Column("edited_at", DateTime(timezone=True), nullable=False),
    Index("ix_placement_plan_decision_id", "decision_id"),
    comment="The placement plan drafted from a decision (Care Planning Regulations 2010 reg 9; Fostering NMS 15): "
    "each edit is a new version, append-only; an agreed version is final.",
)
