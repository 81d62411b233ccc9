"""The PT Pos pages' words (Indonesian, English), merged into `i18n.CATALOG`."""

from __future__ import annotations

VOUCHER_PAIRS: dict[str, tuple[str, str]] = {
    "nav.counters": ("Loket PT Pos", "PT Pos counters"),
    "job.kind.letters": ("Surat undangan PT Pos", "PT Pos invitation letters"),
    "pos.bad_date": ("Tanggal bentuknya YYYY-MM-DD.", "A date is written YYYY-MM-DD."),
    "pos.batch": ("batch", "batch"),
    "pos.issue": ("Terbitkan voucher", "Issue vouchers"),
    "pos.expires_on": ("Berlaku sampai", "Valid until"),
    "pos.letters": ("Surat undangan", "Invitation letters"),
    "pos.letters_title": ("Surat undangan PT Pos", "PT Pos invitation letters"),
    "pos.letters_hint": (
        "Satu PDF per desa/kelurahan untuk setiap voucher yang belum ditukar, dengan kode QR, "
        "tempat dan hari pengambilan serta dokumen yang dibawa (KTP dan KK). Surat ditulis "
        "di latar belakang; unduh ZIP-nya dari halaman pekerjaan.",
        "One PDF per village for every voucher not yet redeemed, with its QR code, the place "
        "and day of collection and the documents to bring (KTP and KK). The letters are "
        "written in the background; download their ZIP from the job's page.",
    ),
    "pos.place": ("Tempat pengambilan", "Collection point"),
    "pos.date": ("Hari pengambilan", "Collection day"),
    "pos.hours": ("Jam buka", "Opening hours"),
    "pos.stage": ("Tahap (kosong: label siklus)", "Stage (empty: the cycle's label)"),
    "pos.letters_write": ("Tulis surat", "Write the letters"),
    "pos.letters_download": ("Unduh surat (ZIP)", "Download the letters (ZIP)"),
    "pos.offline": ("Penukaran luring", "Offline redemptions"),
    "pos.offline_title": ("Penukaran voucher luring", "Offline voucher redemptions"),
    "pos.offline_hint": (
        "Berkas loket yang bekerja tanpa jaringan (CSV token,nik,redeemed_at,counter atau "
        "JSON): setiap voucher dibayar sekali; penukaran kedua dilaporkan sebagai konflik, "
        "tidak pernah dibayar dua kali. Mengunggah berkas yang sama lagi tidak mengubah apa pun.",
        "A file from counters that worked offline (CSV token,nik,redeemed_at,counter or "
        "JSON): each voucher is paid once; a second redemption is reported as a conflict, "
        "never paid twice. Uploading the same file again changes nothing.",
    ),
    "pos.offline_file": ("Berkas penukaran", "Redemptions file"),
    "pos.offline_record": ("Catat penukaran", "Record the redemptions"),
    "pos.offline_missing": ("Pilih berkas penukaran.", "Choose the redemptions file."),
    "pos.offline_too_big": (
        "Berkas lebih dari 20 MB; bagi per hari atau per loket.",
        "The file is over 20 MB; split it by day or by counter.",
    ),
    "pos.offline_summary": (
        "{rows} baris: {paid} dibayar ({amount}), {duplicates} sudah tercatat, {conflicts} "
        "konflik, {refused} ditolak.",
        "{rows} rows: {paid} paid ({amount}), {duplicates} already recorded, {conflicts} "
        "conflicts, {refused} refused.",
    ),
    "pos.outcome": ("Hasil", "Outcome"),
    "pos.message": ("Keterangan", "Why"),
    "pos.outcome.conflict": ("konflik", "conflict"),
    "pos.outcome.refused": ("ditolak", "refused"),
    "pos.counters_title": ("Token loket PT Pos", "PT Pos counters' tokens"),
    "pos.counters_hint": (
        "Loket menukar voucher lewat API dengan token lmc_…, terikat pada mitra, loket dan "
        "(bila diisi) wilayah. Token ditampilkan sekali saat dibuat; yang tersimpan hanya "
        "hash-nya.",
        "Counters redeem vouchers over the API with an lmc_… token bound to a partner, a "
        "counter and (when given) a region. A token is shown once when made; only its hash "
        "is kept.",
    ),
    "pos.made": (
        "Token dibuat. Salin sekarang: token ini tidak akan ditampilkan lagi.",
        "Token made. Copy it now: it will not be shown again.",
    ),
    "pos.new_token": ("Token baru", "New token"),
    "pos.token_name": ("Nama", "Name"),
    "pos.counter": ("Kode loket", "Counter code"),
    "pos.region": ("Wilayah (kode, boleh kosong)", "Region (code, optional)"),
    "pos.days": ("Berlaku (hari)", "Valid (days)"),
    "pos.create": ("Buat token", "Make the token"),
    "pos.tokens": ("Token", "Tokens"),
    "pos.prefix": ("Awalan", "Prefix"),
    "pos.expires": ("Kedaluwarsa", "Expires"),
    "pos.last_used": ("Terakhir dipakai", "Last used"),
    "pos.revoke": ("Cabut", "Revoke"),
    "pos.revoked": ("Token dicabut.", "The token was revoked."),
    "pos.no_tokens": ("Belum ada token loket.", "No counter token yet."),
    "pos.state.active": ("aktif", "active"),
    "pos.state.expired": ("kedaluwarsa", "expired"),
    "pos.state.revoked": ("dicabut", "revoked"),
    "delivery.issued": ("Voucher diterbitkan.", "Vouchers issued."),
}
