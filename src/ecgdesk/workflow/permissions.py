"""The one permission table (action -> roles) that the CLI and the HTTP service both consult.

Every face authenticates the acting user into a :class:`Principal`, then calls :func:`authorize` with the
:class:`Action` it is about to perform; a refusal is written to the audit log and raised as
:class:`~ecgdesk.errors.PermissionDeniedError` (HTTP 403, exit status 2). Reads of patient data are audited
with :func:`audit_read`, in the transaction that reads them.

Roles follow the work of a diagnostic cardiology service: technicians take the order, the recording and the
analysis to a report; physicians interpret and sign; billers code and bill; administrators manage accounts
and read the audit log (they do not read clinical data: minimum necessary, HIPAA 164.502(b)).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import PasswordChangeRequiredError, PermissionDeniedError, a_role
from ecgdesk.store import Store, append
from ecgdesk.store.enums import Role
from ecgdesk.store.models import ComponentPerformance, Interpretation, Order, Signature, Study, User


class Action(enum.StrEnum):
    """What a user can ask ECG Desk to do (the audit log names refusals by this value)."""

    STUDY_LIST = "study:list"
    STUDY_READ = "study:read"
    REPORT_READ = "report:read"
    SIGNAL_READ = "signal:read"
    STUDY_CREATE = "study:create"
    RECORDING_IMPORT = "recording:import"
    STUDY_ANALYZE = "study:analyze"
    BEATS_EDIT = "beats:edit"
    STUDY_COMMENT = "study:comment"
    REPORT_RENDER = "report:render"
    STUDY_INTERPRET = "study:interpret"
    STUDY_SIGN = "study:sign"
    STUDY_ADDENDUM = "study:addendum"
    COMPONENT_RECORD = "component:record"
    STUDY_CODE = "study:code"
    STUDY_BILL = "study:bill"
    STUDY_DISTINCT = "study:distinct"
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    USER_MANAGE = "user:manage"
    SETTINGS_MANAGE = "settings:manage"
    PASSWORD_CHANGE = "password:change"
    MONITOR_ENROLL = "monitor:enroll"
    MONITOR_CRITERIA_READ = "monitor:criteria-read"
    MONITOR_CRITERIA_SIGN = "monitor:criteria-sign"
    MONITOR_INGEST = "monitor:ingest"
    MONITOR_QUEUE_READ = "monitor:queue-read"
    MONITOR_REVIEW = "monitor:review"
    MONITOR_SUPERVISE = "monitor:supervise"
    MONITOR_ROSTER = "monitor:roster"
    MONITOR_DEVICE_SWAP = "monitor:device-swap"
    MONITOR_PERIOD_READ = "monitor:period-read"
    RESULT_EXPORT = "result:export"
    ORDER_RECEIVE = "order:receive"
    ORDER_INBOUND_READ = "order:inbound-read"
    DELIVERY_MANAGE = "delivery:manage"
    INTERFACE_ADMIN = "interface:admin"
    STRIPS_SELECT = "report:strips"
    STUDY_BILLING = "study:billing"
    JOB_READ = "job:read"
    JOB_MANAGE = "job:manage"
    BATCH_ANALYZE = "batch:analyze"
    # Claims exchange and denial work (issue 16)
    BILLING_READ = "billing:read"
    BILLING_SETUP = "billing:setup"
    COVERAGE_ADD = "coverage:add"
    CLAIM_CREATE = "claim:create"
    CLAIM_READ = "claim:read"
    CLAIM_EXPORT = "claim:export"
    CLAIM_ACK = "claim:ack"
    CLAIM_CORRECT = "claim:correct"
    REMIT_POST = "remit:post"
    DENIAL_WORK = "denial:work"
    AR_READ = "ar:read"


T, P, B, A = Role.TECHNICIAN, Role.PHYSICIAN, Role.BILLER, Role.ADMIN
CLINICAL_READERS = frozenset({T, P, B})

#: Who may do what. Adding an action means adding its row here (a test checks that every action has one).
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.STUDY_LIST: CLINICAL_READERS,
    Action.STUDY_READ: CLINICAL_READERS,
    Action.REPORT_READ: CLINICAL_READERS,
    Action.SIGNAL_READ: frozenset({T, P}),
    Action.STUDY_CREATE: frozenset({T}),
    Action.RECORDING_IMPORT: frozenset({T}),
    Action.STUDY_ANALYZE: frozenset({T}),
    Action.BEATS_EDIT: frozenset({T}),
    Action.STUDY_COMMENT: frozenset({T}),
    Action.REPORT_RENDER: frozenset({T, P}),
    Action.STUDY_INTERPRET: frozenset({P}),
    Action.STUDY_SIGN: frozenset({P}),
    Action.STUDY_ADDENDUM: frozenset({P}),
    Action.COMPONENT_RECORD: frozenset({T, P}),
    Action.STUDY_CODE: frozenset({B}),
    Action.STUDY_BILL: frozenset({B}),
    # a study's service was distinct (59 / X{EPSU}): the biller who codes it, or a physician who ordered or
    # read it and knows it had its own order, tracing and report (ON_OWN_STUDY: until 2026-12-07 any
    # physician could mark any study). Not the administrator: no clinical data, no coding.
    Action.STUDY_DISTINCT: frozenset({B, P}),
    Action.AUDIT_READ: frozenset({A}),
    Action.AUDIT_VERIFY: frozenset({A}),
    Action.USER_MANAGE: frozenset({A}),
    # application settings (the escalation minutes of the attended queue): the administrator's, as the
    # roster that names the on-call physician is
    Action.SETTINGS_MANAGE: frozenset({A}),
    # every user changes their own password (proving the current one); only that user, never for another
    Action.PASSWORD_CHANGE: frozenset({T, P, B, A}),
    # Event monitoring (issue 15): technicians attend the queue; the ordering physician signs the criteria;
    # devices send strips with a technician-role API token; the administrator keeps the roster.
    Action.MONITOR_ENROLL: frozenset({T}),
    Action.MONITOR_CRITERIA_READ: frozenset({T, P}),
    Action.MONITOR_CRITERIA_SIGN: frozenset({P}),
    Action.MONITOR_INGEST: frozenset({T}),
    Action.MONITOR_QUEUE_READ: frozenset({T, P}),
    Action.MONITOR_REVIEW: frozenset({T, P}),
    Action.MONITOR_SUPERVISE: frozenset({T, A}),
    Action.MONITOR_ROSTER: frozenset({A}),
    # a failed recorder is replaced by the technicians who fit recorders (enrolment)
    Action.MONITOR_DEVICE_SWAP: frozenset({T}),
    # a period's dates, recorders, criteria, counts and billing state: the technicians who attend it, the
    # physicians who read it and the billers who bill it (no strip or signal: those stay with the queue)
    Action.MONITOR_PERIOD_READ: CLINICAL_READERS,
    # Hospital interfaces (issue 17): results leave with patient data; orders create studies; targets are
    # the administrator's (where patient data may go).
    Action.RESULT_EXPORT: frozenset({T, P}),
    Action.ORDER_RECEIVE: frozenset({T, A}),
    Action.ORDER_INBOUND_READ: frozenset({T, A}),
    Action.DELIVERY_MANAGE: frozenset({T, A}),
    Action.INTERFACE_ADMIN: frozenset({A}),
    # The review workstation (issue 13): the report's strips are chosen by who prepares and reads it; the
    # billing page shows a study's coding facts, codes and scrubber findings to billers.
    Action.STRIPS_SELECT: frozenset({T, P}),
    Action.STUDY_BILLING: frozenset({B}),
    # background jobs: the technicians who run the analyses and the administrators who run the system
    Action.JOB_READ: frozenset({T, A}),
    Action.JOB_MANAGE: frozenset({T, A}),
    Action.BATCH_ANALYZE: frozenset({T}),
    # Billing set-up is practice data (no patient data): billers and administrators keep it. Coverage is
    # captured with the order (technicians) or by billing. Claims, remittances and denials are billing work.
    Action.BILLING_READ: frozenset({B, A}),
    Action.BILLING_SETUP: frozenset({B, A}),
    Action.COVERAGE_ADD: frozenset({T, B}),
    Action.CLAIM_CREATE: frozenset({B}),
    Action.CLAIM_READ: frozenset({B}),
    Action.CLAIM_EXPORT: frozenset({B}),
    Action.CLAIM_ACK: frozenset({B}),
    Action.CLAIM_CORRECT: frozenset({B}),
    Action.REMIT_POST: frozenset({B}),
    Action.DENIAL_WORK: frozenset({B}),
    Action.AR_READ: frozenset({B}),
}

#: The roles that may do an action only on a study they have a part in (its ordering physician, by the NPI
#: of their account; or its reader: the interpretation's author, a signer, or the interpretation component's
#: NPI); the other roles of the action's row do it on any study. Checked by :func:`authorize_study`.
ON_OWN_STUDY: dict[Action, frozenset[Role]] = {
    Action.STUDY_DISTINCT: frozenset({P}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated acting user, however they proved it (session cookie, API token, CLI password)."""

    user_id: int
    username: str
    role: Role
    display_name: str
    via: str
    session_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None
    #: The password was set by an administrator (or is below the policy): only its change is allowed.
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        """The name the audit log records: the user, and the token when a device acted for them."""
        return self.username if self.token_id is None else f"{self.username}#token{self.token_id}"


def allowed(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action]


def authorize(
    store: Store, principal: Principal, action: Action, entity: str = "", entity_id: object = ""
) -> None:
    """Return if ``principal``'s role may do ``action``; else audit the refusal and raise it. A user who
    must change their password first may do nothing else (:func:`refuse_until_changed`)."""
    if principal.must_change_password and action is not Action.PASSWORD_CHANGE:
        refuse_until_changed(store, principal, action.value)
    if allowed(principal.role, action):
        return
    with store.transaction() as session:
        append(
            session,
            principal.actor,
            "auth:forbidden",
            entity or "action",
            entity_id if entity_id != "" else action.value,
            None,
            {"action": action.value, "role": principal.role.value, "via": principal.via},
        )
    raise PermissionDeniedError(
        principal.username, principal.role.value, action.value, sorted(r.value for r in PERMISSIONS[action])
    )


CHANGE_FIRST = (
    "the password of {name!r} was set by an administrator or no longer meets the password rule: change it "
    "first (the page /account/password, PUT /api/v1/session/password, or ecgdesk user change-password); "
    "nothing else is open until then"
)


def refuse_until_changed(store: Store, principal: Principal, what: str) -> None:
    """Audit and refuse ``what`` (an action, or a request's method and path) for a user who must change
    their password first (``users.must_change_password``)."""
    with store.transaction() as session:
        append(
            session,
            principal.actor,
            "auth:forbidden",
            "action",
            what[:200],
            None,
            {"action": what[:200], "role": principal.role.value, "via": principal.via,
             "reason": "password must be changed"},
        )
    raise PasswordChangeRequiredError(
        principal.username,
        principal.role.value,
        what,
        sorted(r.value for r in PERMISSIONS[Action.PASSWORD_CHANGE]),
        CHANGE_FIRST.format(name=principal.username),
    )


def study_part(session: Session, study_id: int, principal: Principal) -> str | None:
    """How ``principal`` takes part in study ``study_id`` ("ordering physician", "interpreting physician"),
    or None."""
    user = session.scalar(select(User).where(User.username == principal.username))
    study = session.get(Study, study_id)
    if study is None:
        return None
    order = session.get(Order, study.order_id)
    npi = user.npi if user is not None else None
    if npi and order is not None and order.ordering_npi == npi:
        return "ordering physician"
    author = session.scalar(select(Interpretation.author).where(Interpretation.study_id == study_id))
    signer = session.scalar(
        select(Signature.id).where(Signature.study_id == study_id, Signature.user_id == principal.user_id)
    )
    reader_npi = npi is not None and session.scalar(
        select(ComponentPerformance.id).where(
            ComponentPerformance.study_id == study_id,
            ComponentPerformance.component == "interpretation",
            ComponentPerformance.npi == npi,
        )
    )
    if author == principal.username or signer is not None or reader_npi:
        return "interpreting physician"
    return None


def authorize_study(store: Store, principal: Principal, action: Action, study_id: int) -> None:
    """Return if ``principal`` may do ``action`` on study ``study_id`` (:data:`ON_OWN_STUDY`: a role that
    may do it only on a study it has a part in); else audit the refusal and raise it, naming why. The role
    itself is :func:`authorize`'s (called first)."""
    limited = ON_OWN_STUDY.get(action, frozenset())
    if principal.role not in limited:
        return
    with store.transaction() as session:
        # no such study: the workflow's own lookup says so (404 / exit 2), not a refusal for someone else's
        if session.get(Study, study_id) is None or study_part(session, study_id, principal) is not None:
            return
        append(
            session,
            principal.actor,
            "auth:forbidden",
            "study",
            study_id,
            None,
            {"action": action.value, "role": principal.role.value, "via": principal.via,
             "reason": "not the study's ordering or interpreting physician"},
        )
    others = sorted(r.value for r in PERMISSIONS[action] - limited)
    raise PermissionDeniedError(
        principal.username,
        principal.role.value,
        action.value,
        sorted(r.value for r in PERMISSIONS[action]),
        f"{principal.username!r} is {a_role(principal.role.value)} but not study {study_id}'s ordering or "
        f"interpreting physician; '{action.value}' is for a physician who ordered or reads the study"
        + (f", or any {' or '.join(others)}" if others else ""),
    )


def audit_read(
    session: Session, actor: str, what: str, entity: str, entity_id: object, detail: object = None
) -> None:
    """One audit row for a read of patient data (HIPAA 164.312(b), ONC 170.315(d)(10))."""
    append(session, actor, f"read:{what}", entity, entity_id, None, detail)
