"""The record linkage pages' words (Indonesian, English), merged into `i18n.CATALOG`."""

from __future__ import annotations

LINK_PAIRS: dict[str, tuple[str, str]] = {
    "nav.link": ("Kemiripan data", "Record linkage"),
    "home.link.pending": ("Pasangan kemiripan menunggu keputusan", "Possible duplicates to decide"),
    "job.kind.link": ("Pencocokan data (linkage)", "Record linkage"),
    "link.title": (
        "Pasangan kemiripan (kemungkinan duplikat)",
        "Possible duplicates (record linkage)",
    ),
    "link.explain": (
        "Pasangan anggota yang menurut model pencocokan mungkin orang yang sama. Putuskan: orang "
        "yang sama, bukan orang yang sama, atau perlu kunjungan lapangan. Keputusan diingat: "
        "pasangan yang sama tidak ditanyakan lagi.",
        "Pairs of members the matching model finds likely to be the same person. Decide: the "
        "same person, not the same, or needs a field visit. Decisions are remembered: a pair is "
        "never asked again.",
    ),
    "link.state": ("Status", "State"),
    "link.state.pending": ("Menunggu keputusan", "Pending"),
    "link.state.same_person": ("Orang yang sama", "Same person"),
    "link.state.not_same": ("Bukan orang yang sama", "Not the same"),
    "link.state.field_visit": ("Perlu kunjungan lapangan", "Needs a field visit"),
    "link.run": ("Putaran", "Run"),
    "link.runs": ("Putaran pencocokan", "Linkage runs"),
    "link.runs.none": ("Belum ada putaran pencocokan.", "No linkage run yet."),
    "link.start": ("Jalankan pencocokan atas rilis", "Run linkage on a release"),
    "link.start.submit": ("Jalankan di latar belakang", "Run in the background"),
    "link.pair": ("Pasangan", "Pair"),
    "link.pairs": ("Pasangan", "Pairs"),
    "link.weight": ("Bobot kecocokan", "Match weight"),
    "link.probability": ("Peluang cocok", "Match probability"),
    "link.left": ("Kiri", "Left"),
    "link.right": ("Kanan", "Right"),
    "link.none": ("Tidak ada pasangan di sini.", "No pairs here."),
    "link.masked": (
        "Nama dan NIK dalam daftar disamarkan; buka pasangan untuk melihat keduanya.",
        "Names and NIKs are masked in the list; open a pair to see both records.",
    ),
    "link.masked.pair": (
        "Nama dan NIK disamarkan untuk peran Anda.",
        "Names and NIKs are masked for your role.",
    ),
    "link.records": ("Catatan", "Records"),
    "link.clusters": ("Klaster", "Clusters"),
    "link.scored": ("Pasangan dinilai", "Pairs scored"),
    "link.queued": ("Masuk antrean", "Sent to review"),
    "link.known": ("Sudah diputuskan sebelumnya", "Decided before"),
    "link.waterfall": ("Sumbangan tiap perbandingan", "Each comparison's contribution"),
    "link.waterfall.explain": (
        "Bobot awal ditambah bobot tiap perbandingan (log2 rasio peluang) menjadi bobot "
        "kecocokan: batang hijau menambah, batang merah mengurangi.",
        "The starting weight plus each comparison's weight (log2 Bayes factor) makes the match "
        "weight: green bars add, red bars subtract.",
    ),
    "link.comparison": ("Perbandingan", "Comparison"),
    "link.level": ("Tingkat", "Level"),
    "link.running": ("Jumlah berjalan", "Running total"),
    "link.prior": ("Bobot awal (prior)", "Starting weight (prior)"),
    "link.decide": ("Keputusan", "Decision"),
    "link.decision": ("Apakah keduanya orang yang sama?", "Are they the same person?"),
    "link.keep": (
        "Jika orang yang sama: catatan yang dipertahankan",
        "If the same: the record kept",
    ),
    "link.keep.left": ("Pertahankan kiri, hapus kanan", "Keep left, remove right"),
    "link.keep.right": ("Pertahankan kanan, hapus kiri", "Keep right, remove left"),
    "link.new_head": (
        "NIK kepala keluarga baru (jika yang dihapus kepala keluarga)",
        "NIK of the new head (if the removed record is a head of family)",
    ),
    "link.decide.submit": ("Simpan keputusan", "Save the decision"),
    "link.decided.same_person": (
        "Disimpan: orang yang sama. Usulan penghapusan duplikat dibuat.",
        "Saved: the same person. A change request removing the duplicate was opened.",
    ),
    "link.decided.not_same": ("Disimpan: bukan orang yang sama.", "Saved: not the same person."),
    "link.decided.field_visit": (
        "Disimpan: perlu kunjungan lapangan.",
        "Saved: needs a field visit.",
    ),
    "link.decided_by": ("Diputuskan oleh {who} pada {at}", "Decided by {who} at {at}"),
    "link.request": ("Usulan {id}", "Change request {id}"),
    "link.report": ("Mutu run pencocokan", "Linkage run quality"),
    "link.report.queue": ("Pasangan run ini", "This run's pairs"),
    "link.precision": (
        "Presisi menurut model (bobot ≥ {weight}, {pairs} pasangan)",
        "Precision the model expects (weight ≥ {weight}, {pairs} pairs)",
    ),
    "link.agreement": (
        "Kesepakatan peninjau dengan model ({agreed} dari {decided} keputusan)",
        "Reviewers' agreement with the model ({agreed} of {decided} decisions)",
    ),
    "link.agreement.short": ("Sepakat", "Agreement"),
    "link.band": ("Bobot kecocokan", "Match weight"),
    "link.expected": ("Cocok menurut model", "Matches expected"),
    "link.sizes": ("Klaster menurut ukuran", "Clusters by size"),
    "link.size": ("Ukuran", "Size"),
    "link.report.explain": (
        "Klaster dimasukkan ke pita bobot pasangannya yang paling lemah. Presisi menurut model: "
        "rata-rata peluang cocok pasangan di atas bobot tinjauan. Kesepakatan: keputusan "
        "peninjau (sama / tidak sama) yang searah dengan model (peluang ≥ 50 %).",
        "A cluster is put in the band of its weakest pair. Precision the model expects: the mean "
        "match probability of the pairs above the review weight. Agreement: reviewers' "
        "decisions (same / not the same) that go the model's way (probability ≥ 50 %).",
    ),
}
