"""The in-kind aid pages' words (Indonesian, English), merged into `i18n.CATALOG`."""

from __future__ import annotations

AID_PAIRS: dict[str, tuple[str, str]] = {
    "nav.aid": ("Bantuan barang", "In-kind aid"),
    "level.district": ("kecamatan", "district"),
    "level.village": ("desa/kelurahan", "village"),
    "aid.title": ("Realisasi bantuan barang", "In-kind aid realisation"),
    "aid.explain": (
        "Bantuan barang ATENSI (Indonesia Mendengar, Melihat, Melangkah) dan Tagana, per "
        "program dan wilayah.",
        "ATENSI in-kind aid (Indonesia Mendengar, Melihat, Melangkah) and Tagana, per program "
        "and region.",
    ),
    "aid.program": ("Program", "Program"),
    "aid.all_programs": ("Semua program", "All programs"),
    "aid.region": ("Wilayah", "Region"),
    "aid.region.hint": (
        "kode, mis. 31.71; kosong: wilayah Anda",
        "a code, e.g. 31.71; empty: your region",
    ),
    "aid.level": ("Tingkat", "Level"),
    "aid.level.default": ("satu di bawah wilayah", "one below the region"),
    "aid.show": ("Tampilkan", "Show"),
    "aid.persons": ("Orang berbeda", "Distinct persons"),
    "aid.distributions": ("Penyerahan", "Distributions"),
    "aid.quantity": ("Jumlah barang", "Quantity"),
    "aid.value": ("Nilai", "Value"),
    "aid.program_total": ("Jumlah program", "Program total"),
    "aid.grand_total": ("Semua program", "All programs"),
    "aid.none": ("Belum ada penyerahan di wilayah ini.", "No distributions in this region yet."),
    "aid.persons.note": (
        "Orang berbeda dihitung menurut NIK: seseorang yang menerima dua barang dihitung sekali "
        "di antara orang dan dua kali di antara penyerahan; jumlah orang per baris tidak "
        "dijumlahkan menjadi total.",
        "Distinct persons are counted by NIK: a person who received two items counts once among "
        "persons and twice among distributions; the persons of the rows do not add up to the "
        "totals.",
    ),
    "aid.region.note": (
        "Wilayah penerima: desa keluarganya bila NIK terdaftar di registry, selain itu desa "
        "tempat penyerahan.",
        "A recipient's region: their family's village when the NIK is in the registry, else the "
        "village of the handover.",
    ),
    "aid.by_item": ("Per barang", "By item"),
    "aid.item": ("Barang", "Item"),
    "aid.unit": ("Satuan", "Unit"),
    "aid.unit_value": ("Nilai acuan per satuan", "Reference value per unit"),
    "aid.download": ("Unduh", "Download"),
    "aid.chart": ("Nilai per {level}", "Value by {level}"),
    "aid.import": ("Impor penyerahan", "Import handovers"),
    "aid.import.explain": (
        "Berkas CSV UTF-8 dengan baris judul tepat seperti ini; satu baris per penyerahan "
        "(tanggal YYYY-MM-DD, kode desa seperti 31.71.01.1001, nilai satuan rupiah bulat atau "
        "kosong untuk nilai acuan katalog). Berkas yang sama diimpor lagi tidak mengubah apa pun.",
        "A UTF-8 CSV file with exactly this header; one row per handover (date YYYY-MM-DD, "
        "village code like 31.71.01.1001, value per unit in whole rupiah or empty for the "
        "catalogue's reference value). The same file imported again changes nothing.",
    ),
    "aid.import.file": ("Berkas CSV", "CSV file"),
    "aid.import.dry_run": ("Periksa saja, jangan muat", "Check only, load nothing"),
    "aid.import.submit": ("Impor", "Import"),
    "aid.import.result": ("Hasil impor", "Import result"),
    "aid.import.rows_read": ("Baris dibaca", "Rows read"),
    "aid.import.accepted": ("Penyerahan dimuat", "Distributions loaded"),
    "aid.import.unchanged": ("Sudah tercatat, tidak berubah", "Already recorded, unchanged"),
    "aid.import.rejected": ("Baris ditolak", "Rows rejected"),
    "aid.import.in_registry": ("Penerima terdaftar di registry", "Recipients in the registry"),
    "aid.import.value": ("Nilai dimuat", "Value loaded"),
    "aid.import.loaded": ("{count} penyerahan dimuat.", "{count} distributions loaded."),
    "aid.import.would_load": (
        "Dry run: {count} penyerahan akan dimuat; tidak ada yang dimuat.",
        "Dry run: {count} distributions would load; nothing was loaded.",
    ),
    "aid.import.nothing_new": (
        "Tidak ada penyerahan baru: tidak ada yang berubah.",
        "No new distributions: nothing changed.",
    ),
    "aid.import.rejects": ("Berkas tolakan (CSV)", "Reject file (CSV)"),
    "aid.import.problems": ("Masalah per baris", "Problems by row"),
    "aid.import.choose": ("Pilih berkas CSV.", "Choose a CSV file."),
    "aid.items": ("Katalog barang", "Item catalogue"),
    "aid.items.code": ("Kode", "Code"),
    "aid.items.programs": ("Program", "Programs"),
    "aid.items.add": ("Tambah barang", "Add an item"),
    "aid.items.added": ("Barang {code} ditambahkan.", "Item {code} added."),
    "aid.items.value_hint": ("rupiah bulat, tanpa titik", "whole rupiah, no separators"),
    "aid.items.bad_value": (
        "Nilai acuan harus rupiah bulat, hanya angka.",
        "The reference value must be whole rupiah, digits only.",
    ),
    "aid.list": ("Daftar penyerahan", "Distributions"),
    "aid.list.date": ("Tanggal", "Date"),
    "aid.list.name": ("Nama", "Name"),
    "aid.list.village": ("Desa penyerahan", "Village of handover"),
    "aid.list.registered": ("Terdaftar", "In registry"),
    "aid.list.masked": (
        "NIK disamarkan di daftar orang; cari satu orang dengan NIK lengkapnya.",
        "NIKs are masked in lists of people; find one person by their full NIK.",
    ),
    "aid.list.nik": ("NIK (16 digit)", "NIK (16 digits)"),
}
