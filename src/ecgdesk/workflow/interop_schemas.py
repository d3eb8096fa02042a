"""What the interface routes answer (Pydantic models, in the OpenAPI document)."""

from __future__ import annotations

from ecgdesk.workflow.schemas import Model


class OrderAckOut(Model):
    """The acknowledgement of an order message: AA, with the HL7 ACK text for v2 senders."""

    code: str
    control_id: str
    text: str
    status: str
    study_id: int | None
    ack: str
