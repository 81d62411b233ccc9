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

from sqlalchemy.orm import Session

from lumbung.delivery.bank import items as batch_items
from lumbung.delivery.bank.header import ACCOUNT, FileHeader
from lumbung.delivery.bank.output import HashedFile
from lumbung.delivery.bank.text import PLAIN, xml_text
from lumbung.errors import Conflict

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


def write(session: Session, header: FileHeader, out: HashedFile) -> batch_items.Digest:
    """Write the file into `out`; the digest of the items written, for the caller to compare
    with the batch's before the file is put in place."""
    out.write(head(header).encode())
    bic = header.partner_bic
    reference = xml_text(header.reference, 140)
    agent = '</PmtId><Amt><InstdAmt Ccy="IDR">'
    creditor = f"</InstdAmt></Amt><CdtrAgt><FinInstnId><BICFI>{bic}</BICFI></FinInstnId></CdtrAgt>"
    remittance = f"<Purp><Cd>SSBE</Cd></Purp><RmtInf><Ustrd>{reference}</Ustrd></RmtInf>"
    digest = batch_items.Digest()
    account_ok = ACCOUNT.fullmatch
    plain = PLAIN.fullmatch  # a name already in the character set, no longer than 140
    for chunk in batch_items.stream(session, header.batch_id):
        lines = []
        for c, b, a, amount, account, name in chunk:
            if account is None or not account_ok(account):
                raise _bad_account(c, b, account)
            lines.append(
                f"<CdtTrfTxInf><PmtId><InstrId>{c}-{b}-{a}</InstrId>"
                f"<EndToEndId>{c}-{b}</EndToEndId>{agent}{amount}{creditor}"
                f"<Cdtr><Nm>{name if name and plain(name) else xml_text(name, 140)}</Nm></Cdtr>"
                f"<CdtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></CdtrAcct>"
                f"{remittance}</CdtTrfTxInf>\n"
            )
        digest.add(chunk)
        out.write("".join(lines).encode())
    out.write(TAIL.encode())
    return digest


def _bad_account(cycle_id: int, beneficiary_id: int, account: str | None) -> Conflict:
    what = "tanpa rekening" if account is None else "dengan nomor rekening yang tidak sah"
    return Conflict(
        f"Pembayaran {cycle_id}-{beneficiary_id} dalam batch {what}; berkas tidak ditulis."
    )
