"""Claims exchange: the 837P writer, 999/277CA/835 readers, line matching, balancing and denial rules.

Domain only: typed values in and out, no database. The workflow (``ecgdesk.workflow.claims*``) builds
:class:`ProfessionalClaim` values from billing set-up and coded studies, and posts what these readers
return::

    from ecgdesk.claims import write_837p, read_remittances, read_999, read_277ca
"""

from ecgdesk.claims.acks import ClaimAck, ClaimAckFile, FunctionalAck, SetAck, read_277ca, read_999
from ecgdesk.claims.grammar import Issue, X12ValidationError
from ecgdesk.claims.model import (
    Address,
    BillingProvider,
    Envelope,
    Frequency,
    Party,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Provider,
    Relationship,
    ServiceLine,
)
from ecgdesk.claims.remit import (
    Adjustment,
    ProviderAdjustment,
    RemitClaim,
    RemitLine,
    Remittance,
    read_remittances,
)
from ecgdesk.claims.tr3 import Problem, claim_problems, file_problems
from ecgdesk.claims.writer837 import ClaimRefusedError, Written, write_837p
from ecgdesk.claims.x12 import X12Error

__all__ = [
    "Address",
    "Adjustment",
    "BillingProvider",
    "ClaimAck",
    "ClaimAckFile",
    "ClaimRefusedError",
    "Envelope",
    "Frequency",
    "FunctionalAck",
    "Issue",
    "Party",
    "PayerInfo",
    "Person",
    "Problem",
    "ProfessionalClaim",
    "Provider",
    "ProviderAdjustment",
    "Relationship",
    "RemitClaim",
    "RemitLine",
    "Remittance",
    "ServiceLine",
    "SetAck",
    "Written",
    "X12Error",
    "X12ValidationError",
    "claim_problems",
    "file_problems",
    "read_277ca",
    "read_999",
    "read_remittances",
    "write_837p",
]
