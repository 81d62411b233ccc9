"""An approved batch as an ISO 20022 pain.001.001.09 CustomerCreditTransferInitiation.

One group header, one payment information block (the ministry's account as debtor, the
batch's count and total as `NbOfTxs` and `CtrlSum`), one `CdtTrfTxInf` per item: instruction
id = the attempt's id, end-to-end id = the entitlement's id, the amount in whole rupiah
(`Ccy="IDR"`, no decimals: the XSD's decimal allows it, and no float ever touches it), the
family's bank by the partner's BIC, the family's account and the name to pay in the bank
character set (`text`), purpose `SSBE` (social security benefit), the charges borne by the
debtor (`DEBT`: a family receives the whole amount). Written line by line as the items
stream in (one transaction a line), never held whole: a 10 M-transaction file is ~4 GB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

from sqlalchemy.orm import Session

from lumbung.delivery.bank import items as batch_items
from lumbung.delivery.bank.header import FileHeader
from lumbung.delivery.bank.output import HashedFile
from lumbung.delivery.bank.text import PLAIN, xml_text

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"


def head(h: FileHeader) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NAMESPACE}">\n'
        "<CstmrCdtTrfInitn>\n"
        f"<GrpHdr><MsgId>{h.message_id}</MsgId><CreDtTm>{h.created}</CreDtTm>"
        f"<NbOfTxs>{h.count}</NbOfTxs><CtrlSum>{h.total_idr}</CtrlSum>"
        f"<InitgPty><Nm>{xml_text(h.payer_name, 140)}</Nm></InitgPty></GrpHdr>\n"
        f"<PmtInf><PmtInfId>{h.message_id}-1</PmtInfId><PmtMtd>TRF</PmtMtd>"
        "<BtchBookg>false</BtchBookg>"
        f"<NbOfTxs>{h.count}</NbOfTxs><CtrlSum>{h.total_idr}</CtrlSum>"
        f"<ReqdExctnDt><Dt>{h.execution_date.isoformat()}</Dt></ReqdExctnDt>"
        f"<Dbtr><Nm>{xml_text(h.payer_name, 140)}</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{xml_text(h.payer_account, 34)}</Id></Othr></Id>"
        "<Ccy>IDR</Ccy></DbtrAcct>"
        f"<DbtrAgt><FinInstnId><BICFI>{h.payer_bic}</BICFI></FinInstnId></DbtrAgt>"
        "<ChrgBr>DEBT</ChrgBr>\n"
    )


TAIL = "</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n"


def item_template(bic: str, reference: str) -> str:
    """One `CdtTrfTxInf` line as a `%` format of (cycle, beneficiary, attempt, cycle,
    beneficiary, amount, name, account): instruction id, end-to-end id, amount, name, account;
    the creditor's bank and the remittance text are the batch's, the same on every line."""
    bic, reference = bic.replace("%", "%%"), reference.replace("%", "%%")
    return (
        "<CdtTrfTxInf><PmtId><InstrId>%s-%s-%s</InstrId><EndToEndId>%s-%s</EndToEndId></PmtId>"
        '<Amt><InstdAmt Ccy="IDR">%s</InstdAmt></Amt>'
        f"<CdtrAgt><FinInstnId><BICFI>{bic}</BICFI></FinInstnId></CdtrAgt>"
        "<Cdtr><Nm>%s</Nm></Cdtr><CdtrAcct><Id><Othr><Id>%s</Id></Othr></Id></CdtrAcct>"
        f"<Purp><Cd>SSBE</Cd></Purp><RmtInf><Ustrd>{reference}</Ustrd></RmtInf></CdtTrfTxInf>\n"
    )


# Every name of a chunk at once: the names joined by line ends, each one `PLAIN`.
_ALL_PLAIN = re.compile(
    r"(?:(?=[^\n]{1,140}\n)[A-Za-z0-9/\-?:().,'+]+(?: [A-Za-z0-9/\-?:().,'+]+)*\n)*"
)


def names_as_written(names: Sequence[str | None]) -> Sequence[str]:
    """The names to pay as the file carries them: most are already in the bank character set
    and need nothing (one regular expression over the chunk says so); else each one that is
    not goes through `xml_text`."""
    try:
        joined = "\n".join(names)  # type: ignore[arg-type]  # a None: TypeError
    except TypeError:
        joined = None
    if (
        joined is not None
        and _ALL_PLAIN.fullmatch(joined + "\n") is not None
        and joined.count("\n") == len(names) - 1  # no name holding a line end
    ):
        return names  # type: ignore[return-value]  # none is None
    plain = PLAIN.fullmatch
    return [name if name and plain(name) else xml_text(name, 140) for name in names]


def write(session: Session, header: FileHeader, out: HashedFile) -> batch_items.Digest:
    """Write the file into `out`; the digest of the items written, for the caller to compare
    with the batch's before the file is put in place."""
    out.write(head(header).encode())
    template = item_template(header.partner_bic, xml_text(header.reference, 140))
    digest = batch_items.Digest()
    for chunk in batch_items.columns(session, header.batch_id):
        c, b = chunk.cycles, chunk.beneficiaries
        names = names_as_written(chunk.names)
        fields = zip(c, b, chunk.attempts, c, b, chunk.amounts, names, chunk.accounts, strict=True)
        out.write((template * len(c) % tuple(chain.from_iterable(fields))).encode())
        digest.add_columns(chunk)
    out.write(TAIL.encode())
    return digest
