"""An invitation letter (surat undangan) per family, one PDF per village, drawn with reportlab.

The page is kept simple for speed (1,000 letters a second on two cores is the target): the
standard Helvetica fonts (not embedded), text drawn as text objects — names, addresses and
places are written as strings, never parsed as markup (no `Paragraph`) — and the QR code as
one inline 1-bit image (a few hundred bytes) of the bit matrix zxing-cpp makes.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import zxingcpp
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from lumbung.delivery.pos import token

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
# Page streams are zlib-compressed and written as they are: ASCII85 on top (reportlab's default)
# makes files a quarter larger and costs a third of a page's time.
rl_config.useA85 = 0
QR_MASK = 0
DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


@dataclass(frozen=True, slots=True)
class Letter:
    """One family's letter: what it says, and the voucher fields its code is signed from."""

    voucher_id: int
    key_id: str
    nik: str
    amount_idr: int
    expires_on: date
    name: str
    address: str
    rt: str
    rw: str
    home_delivery: bool


@dataclass(frozen=True, slots=True)
class Village:
    """What the letters of one village share."""

    code: str
    village: str
    district: str
    regency: str
    province: str
    program: str
    stage: str
    place: str
    collect_on: date
    hours: str
    issued_on: date
    reference: str  # the batch's reference, printed in every letter's number


def long_date(day: date, *, weekday: bool = False) -> str:
    text = f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    return f"{DAYS[day.weekday()]}, {text}" if weekday else text


def rupiah(amount: int) -> str:
    """`600000` → `Rp600.000` (integer rupiah)."""
    return "Rp" + f"{amount:,}".replace(",", ".")


def plain(value: str, limit: int = 80) -> str:
    """User text as Helvetica can show it: control and format characters dropped, letters the
    font's encoding lacks replaced by their base letter or '?'."""
    if value.isascii() and value.isprintable() and len(value) <= limit:
        return value.strip()
    kept = []
    for char in value:
        if unicodedata.category(char)[0] == "C":
            continue
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char)[:1]
            char = base if base.isascii() and base.isprintable() else "?"
        kept.append(char)
    text = "".join(kept).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def qr_matrix(text: str) -> np.ndarray:
    """The QR code of `text` as a boolean matrix (True = dark), without its quiet zone."""
    # A fixed mask pattern: choosing the best of the eight (QR's penalty rules) is four fifths
    # of the encoder's time, and any mask reads; the letters' test decodes every code printed.
    barcode = zxingcpp.create_barcode(
        text, zxingcpp.BarcodeFormat.QRCode, ec_level="M", data_mask=QR_MASK
    )
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return image < 128


def inline_image(matrix: np.ndarray, x: float, y: float, size: float) -> str:
    """PDF operators drawing `matrix` as a 1-bit inline image, `size` points square at (x, y)."""
    height, width = matrix.shape
    packed = np.packbits(~matrix, axis=1)  # DeviceGray 1 bit: 0 black, 1 white
    return (
        f"q {size:.2f} 0 0 {size:.2f} {x:.2f} {y:.2f} cm\n"
        f"BI /W {width} /H {height} /BPC 1 /CS /G /F /AHx ID\n{packed.tobytes().hex()}>\nEI Q"
    )


LEFT = 56.0
RIGHT = A4[0] - 56.0


def _header(canvas: Canvas) -> None:
    width = A4[0]
    top = A4[1] - 56
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawCentredString(width / 2, top, "KEMENTERIAN SOSIAL REPUBLIK INDONESIA")
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawCentredString(
        width / 2, top - 15, "DIREKTORAT JENDERAL PERLINDUNGAN DAN JAMINAN SOSIAL"
    )
    canvas.setFont("Helvetica", 8.5)
    canvas.drawCentredString(
        width / 2, top - 28, "Jalan Salemba Raya Nomor 28, Jakarta Pusat 10430 · kemensos.go.id"
    )
    canvas.drawCentredString(width / 2, top - 39, "Penyaluran bersama PT Pos Indonesia (Persero)")
    canvas.setLineWidth(1.6)
    canvas.line(LEFT, top - 47, RIGHT, top - 47)
    canvas.setLineWidth(0.5)
    canvas.line(LEFT, top - 50, RIGHT, top - 50)


TOP = A4[1] - 135  # the title's baseline
BODY = TOP - 215
ROW_LABELS = (
    "Program",
    "Tahap",
    "Jumlah bantuan",
    "Tempat pengambilan",
    "Hari, tanggal",
    "Waktu",
    "Berlaku sampai",
)
ROWS_TOP = BODY - 52
ROW_STEP = 16
DOCUMENTS = ROWS_TOP - ROW_STEP * len(ROW_LABELS) - 10
NOTICE = DOCUMENTS - 105
QR_SIZE = 132.0
QR_X = RIGHT - QR_SIZE
QR_Y = TOP - 62 - QR_SIZE + 4  # four modules of quiet zone below the date line


def draw_static(canvas: Canvas) -> None:
    """What every letter says: drawn once per file as a form, placed on every page."""
    _header(canvas)
    width = A4[0]
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawCentredString(width / 2, TOP, "SURAT UNDANGAN")
    canvas.setLineWidth(0.8)
    canvas.line(width / 2 - 62, TOP - 3, width / 2 + 62, TOP - 3)
    text = canvas.beginText(LEFT, TOP - 62)
    text.setFont("Helvetica", 10.5)
    text.textLine("Kepada Yth.")
    canvas.drawText(text)
    text = canvas.beginText(LEFT, BODY)
    text.setFont("Helvetica", 10.5)
    text.setLeading(15)
    text.textLine("Dengan hormat,")
    text.textLine(
        "Berdasarkan data terpadu kesejahteraan sosial, Bapak/Ibu ditetapkan sebagai penerima"
    )
    text.textLine("bantuan sosial dengan rincian berikut:")
    canvas.drawText(text)
    canvas.setFont("Helvetica", 10.5)
    for n, label in enumerate(ROW_LABELS):
        canvas.drawString(LEFT + 14, ROWS_TOP - n * ROW_STEP, label)
        canvas.drawString(LEFT + 140, ROWS_TOP - n * ROW_STEP, ":")
    text = canvas.beginText(LEFT, DOCUMENTS)
    text.setLeading(15)
    text.setFont("Helvetica-Bold", 10.5)
    text.textLine("Dokumen yang wajib dibawa:")
    text.setFont("Helvetica", 10.5)
    text.textLine("1.  Surat undangan ini (kode QR akan dipindai petugas).")
    text.textLine("2.  KTP-el asli penerima.")
    text.textLine("3.  Kartu Keluarga (KK) asli.")
    text.textLine(
        "Bila penerima berhalangan, bantuan dapat diambil oleh anggota keluarga yang tercantum"
    )
    text.textLine("dalam KK, dengan membawa KK asli penerima dan KTP-el perwakilan.")
    canvas.drawText(text)
    canvas.setLineWidth(0.4)
    canvas.line(LEFT, 50, RIGHT, 50)
    canvas.setFont("Helvetica", 7.5)
    canvas.drawRightString(RIGHT, 40, "Surat ini tidak diperjualbelikan.")


def draw_closing(canvas: Canvas, y: float) -> None:
    """The notice and the signature block, `y` the notice's top (two forms: with and without
    the home-delivery box above)."""
    text = canvas.beginText(LEFT, y - 8)
    text.setLeading(14)
    text.setFont("Helvetica", 10)
    text.textLine("Bantuan ini GRATIS dan tidak boleh dipotong atau dipungut biaya apa pun.")
    text.textLine(
        "Laporkan pemotongan atau pungutan kepada petugas kantor pos atau Dinas Sosial setempat."
    )
    canvas.drawText(text)
    sign_x = RIGHT - 190
    text = canvas.beginText(sign_x, y - 40)
    text.setLeading(13)
    text.setFont("Helvetica", 10)
    text.textLine("a.n. Menteri Sosial Republik Indonesia")
    text.textLine("Direktur Jenderal Perlindungan")
    text.textLine("dan Jaminan Sosial")
    canvas.drawText(text)
    canvas.setFont("Helvetica-Oblique", 8)
    canvas.drawString(sign_x, y - 82, "Ditandatangani secara elektronik;")
    canvas.drawString(sign_x, y - 91, "keaslian diperiksa melalui kode QR.")


def draw_home_delivery(canvas: Canvas) -> None:
    y = NOTICE
    canvas.setLineWidth(1.2)
    canvas.rect(LEFT, y - 34, RIGHT - LEFT, 44, stroke=1, fill=0)
    canvas.setFont("Helvetica-Bold", 10.5)
    canvas.drawString(LEFT + 10, y - 6, "DIANTAR KE RUMAH")
    canvas.setFont("Helvetica", 9.5)
    canvas.drawString(
        LEFT + 10,
        y - 20,
        "Keluarga ini memiliki anggota lanjut usia (70 tahun ke atas) atau penyandang",
    )
    canvas.drawString(
        LEFT + 10,
        y - 31,
        "disabilitas berat: petugas PT Pos mengantar bantuan ke alamat di atas.",
    )
    draw_closing(canvas, y - 52)


def draw_village(canvas: Canvas, village: Village) -> None:
    """What the letters of one village share: its place in the address, the program, the
    collection point and day."""
    canvas.setFont("Helvetica", 9.5)
    canvas.drawRightString(RIGHT, TOP - 40, f"Jakarta, {long_date(village.issued_on)}")
    text = canvas.beginText(LEFT, TOP - 62 - 3 * 12.6)
    text.setFont("Helvetica", 10.5)
    text.textLine(f"Desa/Kelurahan {plain(village.village, 50)}")
    text.textLine(f"Kecamatan {plain(village.district, 50)}")
    text.textLine(f"{plain(village.regency, 50)}, {plain(village.province, 40)}")
    canvas.drawText(text)
    values = {
        "Program": plain(village.program, 70),
        "Tahap": plain(village.stage, 70),
        "Tempat pengambilan": plain(village.place, 70),
        "Hari, tanggal": long_date(village.collect_on, weekday=True),
        "Waktu": plain(village.hours, 40),
    }
    canvas.setFont("Helvetica", 10.5)
    for n, label in enumerate(ROW_LABELS):
        if label in values:
            canvas.drawString(LEFT + 150, ROWS_TOP - n * ROW_STEP, values[label])


def draw_letter(canvas: Canvas, village: Village, letter: Letter, code: str) -> None:
    """One letter: the forms of the file and the village, then what is the family's own."""
    canvas.doForm("static")
    canvas.doForm(f"v{village.code}")
    canvas.doForm("home" if letter.home_delivery else "closing")
    width = A4[0]
    canvas.setFont("Helvetica", 9.5)
    canvas.drawCentredString(width / 2, TOP - 16, f"Nomor: {village.reference}/{letter.voucher_id}")
    text = canvas.beginText(LEFT, TOP - 62 - 12.6)
    text.setFont("Helvetica-Bold", 11)
    text.textLine(f"Bapak/Ibu {plain(letter.name, 60)}")
    text.setFont("Helvetica", 10.5)
    street = plain(letter.address, 60) if letter.address else ""
    rt_rw = f"RT {plain(letter.rt, 3) or '-'} / RW {plain(letter.rw, 3) or '-'}"
    text.textLine(f"{street}, {rt_rw}" if street else rt_rw)
    canvas.drawText(text)
    canvas.addLiteral(inline_image(qr_matrix(code), QR_X, QR_Y, QR_SIZE))
    canvas.setFont("Helvetica", 8)
    canvas.drawCentredString(QR_X + QR_SIZE / 2, QR_Y - 10, f"Kode voucher {letter.voucher_id}")
    canvas.setFont("Helvetica-Bold", 10.5)
    canvas.drawString(LEFT + 150, ROWS_TOP - 2 * ROW_STEP, rupiah(letter.amount_idr))
    canvas.setFont("Helvetica", 10.5)
    canvas.drawString(LEFT + 150, ROWS_TOP - 6 * ROW_STEP, long_date(letter.expires_on))
    canvas.setFont("Helvetica", 7.5)
    canvas.drawString(
        LEFT,
        40,
        f"Lumbung · {village.reference} · wilayah {village.code} · voucher {letter.voucher_id}",
    )
    canvas.showPage()


def _forms(canvas: Canvas, villages: list[Village]) -> None:
    canvas.beginForm("static")
    draw_static(canvas)
    canvas.endForm()
    canvas.beginForm("closing")
    draw_closing(canvas, NOTICE)
    canvas.endForm()
    canvas.beginForm("home")
    draw_home_delivery(canvas)
    canvas.endForm()
    for village in villages:
        canvas.beginForm(f"v{village.code}")
        draw_village(canvas, village)
        canvas.endForm()


def render_village(
    path: Path, village: Village, letters: list[Letter], seeds: dict[str, bytes]
) -> tuple[int, str]:
    """The village's letters written to `path`; returns (letters, sha256 of the file)."""
    canvas = Canvas(str(path), pagesize=A4, pageCompression=1, invariant=1)
    canvas.setTitle(f"Surat undangan {village.reference} {village.code}")
    canvas.setAuthor("Kementerian Sosial Republik Indonesia")
    signers = {key_id: token.signing_key(seed) for key_id, seed in seeds.items()}
    _forms(canvas, [village])
    for letter in letters:
        claim = token.claim_for(
            key_id=letter.key_id,
            voucher_id=letter.voucher_id,
            amount_idr=letter.amount_idr,
            expires_on=letter.expires_on,
            nik=letter.nik,
        )
        draw_letter(canvas, village, letter, token.sign(claim, signers[letter.key_id]))
    canvas.save()
    return len(letters), hashlib.sha256(path.read_bytes()).hexdigest()


_SEEDS: dict[str, bytes] = {}


def init_worker(seeds: dict[str, bytes]) -> None:
    """A letter-writing process's keys (the key file's secrets for the vouchers' key ids)."""
    _SEEDS.update(seeds)


def render_task(
    task: list[tuple[str, Village, list[Letter]]],
) -> tuple[list[tuple[str, int, str]], float]:
    """Villages' letters, each to its path: [(village code, letters, sha256)], and the CPU
    seconds this process spent on them."""
    started = time.process_time()
    done = [
        (village.code, *render_village(Path(path), village, letters, _SEEDS))
        for path, village, letters in task
    ]
    return done, time.process_time() - started
