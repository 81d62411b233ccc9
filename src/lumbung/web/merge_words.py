"""The words of the page for merging another registry (Indonesian, English), merged into
`i18n.CATALOG`."""

from __future__ import annotations

MERGE_PAIRS: dict[str, tuple[str, str]] = {
    "job.kind.link_merge": ("Penggabungan registry lain", "Another registry merged"),
    "merge.title": ("Penggabungan registry lain", "Merging another registry"),
    "merge.explain": (
        "Ekspor sumber lain (daftar pemerintah daerah, registry kementerian lain) dalam format "
        "pertukaran dicocokkan dengan rilis terakhir. Tiap baris: cocok (dengan kolom yang "
        "berbeda), baru, atau konflik. Perbedaan dan keluarga baru menjadi usulan perubahan "
        "yang diverifikasi dan ditetapkan seperti biasa; usulan yang masih terbuka tidak "
        "diusulkan dua kali.",
        "Another source's export (a regional government's list, another ministry's registry) "
        "in the exchange format is linked against the latest release. Each row: matched (with "
        "the fields that differ), new, or conflicting. Differences and new families become "
        "change requests, verified and determined as usual; a request still open is never "
        "proposed twice.",
    ),
    "merge.files": (
        "Berkas ekspor (households.csv dan members.csv, atau satu XLSX)",
        "Export files (households.csv and members.csv, or one XLSX)",
    ),
    "merge.source": ("Nama sumber", "Source name"),
    "merge.source.hint": (
        "huruf, angka, titik, garis bawah atau tanda hubung; misalnya dinsos-jabar",
        "letters, digits, dots, underscores or hyphens; e.g. dinsos-jabar",
    ),
    "merge.choose": ("Pilih berkas ekspor.", "Choose the export's files."),
    "merge.submit": ("Gabungkan (job)", "Merge (a job)"),
    "merge.report": ("Sumbangan tiap sumber per wilayah", "What each source added, by region"),
    "merge.none": ("Belum ada penggabungan.", "No merge yet."),
    "merge.col.source": ("Sumber", "Source"),
    "merge.col.records": ("Baris", "Rows"),
    "merge.col.matched": ("Cocok", "Matched"),
    "merge.col.matched_differing": ("Cocok, ada beda", "Matched, differing"),
    "merge.col.new": ("Baru", "New"),
    "merge.col.conflicting": ("Konflik", "Conflicting"),
    "merge.col.proposed": ("Diusulkan", "Proposed"),
    "merge.col.proposals_open": ("Usulan terbuka", "Open requests"),
    "merge.col.outside": ("Di luar wilayah", "Outside the region"),
    "merge.total": ("Jumlah", "Total"),
}
