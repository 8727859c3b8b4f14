"""A dispute's parties (当事人): name, ID number (GB 11643, checked on input) and phone, masked on
screen (a full read is audited by ``disputes.reveal``); the caller of the call that opened a
dispute is a party whose phone is read from the call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from qingzhi.community import idnumber
from qingzhi.community.models import DisputeParty
from qingzhi.community.schemas import PartyIn, PartyRead
from qingzhi.incidents.reads import mask_phone

CALLER = "报警人"


def party_read(p: DisputeParty, unmask: bool) -> PartyRead:
    """A party as shown: masked unless ``unmask``."""
    return PartyRead(
        id=p.id,
        name=p.name,
        id_number=p.id_number if unmask else idnumber.mask(p.id_number),
        phone=p.phone if unmask else mask_phone(p.phone),
        role=p.role,
        masked=not unmask,
    )


def caller_party(phone: str, unmask: bool) -> PartyRead:
    """The caller of the dispute's call as a party (id 0: the phone is the call's)."""
    return PartyRead(
        id=0,
        name=CALLER,
        id_number=None,
        phone=phone if unmask else mask_phone(phone),
        role=CALLER,
        masked=not unmask,
    )


def add_parties(session: Session, dispute_id: int, parties: Sequence[PartyIn]) -> None:
    """Add parties to a dispute (in the caller's transaction; audited by the caller)."""
    for p in parties:
        session.add(
            DisputeParty(
                dispute_id=dispute_id,
                name=p.name,
                id_number=p.id_number,
                phone=p.phone,
                role=p.role,
            )
        )


def parties_audit(parties: Sequence[PartyIn]) -> list[dict[str, Any]]:
    """The parties as an audit record holds them (ID numbers and phones masked)."""
    return [
        {"name": p.name, "id_number": idnumber.mask(p.id_number), "phone": mask_phone(p.phone)}
        for p in parties
    ]
