"""The civil registry matching pages' words (Indonesian, English), merged into
`i18n.CATALOG`."""

from __future__ import annotations

CIVIL_PAIRS: dict[str, tuple[str, str]] = {
    "nav.civil": ("Padan Dukcapil", "Civil registry match"),
    "job.kind.civil_import": ("Impor ekstrak Dukcapil", "Dukcapil extract import"),
    "civil.title": ("Padan data Dukcapil", "Civil registry (Dukcapil) match"),
    "civil.explain": (
        "Anggota registry dicocokkan dengan ekstrak Dukcapil: padan, tidak padan (kolom mana), "
        "meninggal, atau tidak ditemukan. Setiap anggota dihitung sekali, menurut impor "
        "terakhir yang menandainya.",
        "Registry members matched against a Dukcapil extract: matched, mismatched (which "
        "field), deceased, or not found. Each member counts once, as found by the latest import "
        "that marked them.",
    ),
    "civil.region": ("Wilayah", "Region"),
    "civil.region.hint": (
        "kode, mis. 31.71; kosong: wilayah Anda",
        "a code, e.g. 31.71; empty: your region",
    ),
    "civil.level": ("Tingkat", "Level"),
    "civil.level.default": ("satu di bawah wilayah", "one below the region"),
    "civil.show": ("Tampilkan", "Show"),
    "civil.members": ("Anggota ditandai", "Members marked"),
    "civil.outcome.matched": ("Padan", "Matched"),
    "civil.outcome.mismatched": ("Tidak padan", "Mismatched"),
    "civil.outcome.deceased": ("Meninggal", "Deceased"),
    "civil.outcome.not_found": ("Tidak ditemukan", "Not found"),
    "civil.field.nik": ("NIK", "NIK"),
    "civil.field.name": ("Nama", "Name"),
    "civil.field.birth_date": ("Tanggal lahir", "Birth date"),
    "civil.field.birth_date_swapped": ("Hari/bulan tertukar", "Day/month swapped"),
    "civil.field.sex": ("Jenis kelamin", "Sex"),
    "civil.field.kk_number": ("KK", "KK"),
    "civil.fields": ("Tidak padan per kolom", "Mismatched by field"),
    "civil.fields.note": (
        "Satu anggota bisa dihitung di beberapa kolom; persen dari anggota yang ditandai.",
        "One member may count under several fields; percentages of the members marked.",
    ),
    "civil.total": ("Jumlah", "Total"),
    "civil.none": (
        "Belum ada anggota yang ditandai di wilayah ini.",
        "No member has been marked in this region yet.",
    ),
    "civil.download": ("Unduh", "Download"),
    "civil.imports": ("Impor ekstrak", "Extract imports"),
    "civil.imports.none": ("Belum ada impor.", "No imports yet."),
    "civil.import": ("Impor ekstrak Dukcapil", "Import a Dukcapil extract"),
    "civil.import.explain": (
        "Unggah ekstrak Dukcapil (CSV UTF-8) dengan baris judul berikut; tanggal ditulis "
        "YYYY-MM-DD, death_date kosong bila masih hidup. Semua anggota wilayah yang dicakup "
        "ditandai; yang meninggal, tidak ditemukan atau ber-NIK lain diusulkan sebagai "
        "perubahan dan diverifikasi seperti usulan lain. Bila ada anggota yang tidak "
        "ditemukan, impor berhenti dulu dan menampilkan berapa yang akan diusulkan dihapus; "
        "baru setelah Anda mengonfirmasi jumlah itu anggota ditandai dan usulan dibuat. Berkas "
        "yang sama dua kali tidak mengubah apa pun.",
        "Upload a Dukcapil extract (UTF-8 CSV) with the header below; dates written "
        "YYYY-MM-DD, death_date empty for the living. Every member of the area covered is "
        "marked; those deceased, not found or under another NIK are proposed as changes and "
        "verified as any proposal. When members are not found, the import stops first and "
        "shows how many would be proposed for removal; only once you confirm that number are "
        "members marked and the proposals made. The same file twice changes nothing.",
    ),
    "civil.import.file": ("Ekstrak (CSV)", "Extract (CSV)"),
    "civil.import.region": ("Wilayah yang dicakup", "Area covered"),
    "civil.import.submit": ("Impor", "Import"),
    "civil.import.force": (
        "Paksa impor: tandai juga bila sebagian besar anggota wilayah itu tidak ada di ekstrak "
        "(mereka diusulkan keluar sebagai tidak ditemukan)",
        "Force the import: mark even when most members of the area are not in the extract "
        "(they are proposed for removal as not found)",
    ),
    "civil.import.choose": ("Pilih berkas ekstrak.", "Choose the extract file."),
    "civil.import.open": ("Lihat hasil impor", "Open the import's result"),
    "civil.result": ("Hasil impor", "Import result"),
    "civil.result.file": ("Berkas", "File"),
    "civil.result.by": ("Oleh", "By"),
    "civil.result.at": ("Waktu", "When"),
    "civil.result.rows_read": ("Baris dibaca", "Rows read"),
    "civil.result.rows_rejected": ("Baris ditolak", "Rows rejected"),
    "civil.result.proposals": ("Usulan perubahan dibuat", "Change requests proposed"),
    "civil.result.problems": ("Masalah di berkas", "Problems in the file"),
    "civil.result.rejects": ("Unduh berkas tolakan", "Download the reject file"),
    "civil.result.members": ("Anggota", "Members"),
    "civil.result.outcome": ("Hasil", "Outcome"),
    "civil.result.all": ("Semua", "All"),
    "civil.col.kk": ("KK", "KK"),
    "civil.col.nik": ("NIK", "NIK"),
    "civil.col.name": ("Nama", "Name"),
    "civil.col.fields": ("Kolom beda", "Fields that differ"),
    "civil.col.extract_nik": ("NIK di Dukcapil", "NIK at Dukcapil"),
    "civil.col.death": ("Meninggal", "Died"),
    "civil.col.request": ("Usulan", "Request"),
    "civil.national": ("nasional", "national"),
    "propose.remove.reason": ("Alasan", "Reason"),
    "civil.job.removals": ("Akan diusulkan dihapus", "To be proposed for removal"),
    "civil.job.members_in_area": ("Anggota wilayah", "Members of the area"),
    "civil.confirm.state": ("menunggu konfirmasi", "waiting for confirmation"),
    "civil.partial.title": (
        "Ekstrak ini hanya mencakup sebagian wilayah",
        "This extract covers only part of the area",
    ),
    "civil.confirm.title": (
        "Konfirmasi: {count} anggota akan diusulkan dihapus",
        "Confirm: {count} members would be proposed for removal",
    ),
    "civil.confirm.check": (
        "Saya sudah memeriksa bahwa ekstrak ini mencakup seluruh wilayah, dan {count} anggota "
        "yang tidak ada di dalamnya memang diusulkan dihapus.",
        "I checked that this extract covers the whole area, and that the {count} members not "
        "in it are to be proposed for removal.",
    ),
    "civil.confirm.submit": (
        "Impor dan usulkan penghapusan {count} anggota",
        "Import and propose removing {count} members",
    ),
    "civil.confirm.cancel": ("Batal, unggah ekstrak lain", "Cancel, upload another extract"),
    "civil.job.rows_read": ("Baris ekstrak dibaca", "Extract rows read"),
    "civil.job.rows_rejected": ("Baris ditolak", "Rows rejected"),
    "civil.job.members": ("Anggota ditandai", "Members marked"),
    "civil.job.matched": ("Padan", "Matched"),
    "civil.job.mismatched": ("Tidak padan", "Mismatched"),
    "civil.job.deceased": ("Meninggal", "Deceased"),
    "civil.job.not_found": ("Tidak ditemukan", "Not found"),
    "civil.job.proposals": ("Usulan perubahan dibuat", "Change requests proposed"),
}
