"""The policy simulation pages' words (Indonesian, English), merged into `i18n.CATALOG`."""

from __future__ import annotations

SIMULATION_PAIRS: dict[str, tuple[str, str]] = {
    "nav.simulation": ("Simulasi", "Simulation"),
    "job.kind.simulation_run": ("Simulasi kebijakan", "Policy simulation"),
    "sim.title": ("Simulasi kebijakan", "Policy simulation"),
    "sim.notice": (
        "SIMULASI — bukan keputusan; tidak ada siklus, penetapan atau pembayaran.",
        "SIMULATION — not a decision; no cycle, determination or payment.",
    ),
    "sim.run": ("Jalankan skenario", "Run a scenario"),
    "sim.label": ("Label simulasi", "Simulation label"),
    "sim.changes": ("Perubahan (satu KUNCI=NILAI per baris)", "Changes (one KEY=VALUE a line)"),
    "sim.changes.hint": (
        "mis. amounts.elderly=4800000, decile=4, regions=31,32.01",
        "e.g. amounts.elderly=4800000, decile=4, regions=31,32.01",
    ),
    "sim.submit": ("Hitung simulasi", "Compute the simulation"),
    "sim.none": ("Belum ada simulasi.", "No simulation yet."),
    "sim.scenario": ("Skenario", "Scenario"),
    "sim.baseline": ("Pembanding", "Baseline"),
    "sim.difference": ("Selisih", "Difference"),
    "sim.per_year": ("Per tahun", "Per year"),
    "sim.per_month": ("Per bulan", "Per month"),
    "sim.per_cycle": ("Per siklus", "Per cycle"),
    "sim.families": ("Keluarga", "Families"),
    "sim.entered": ("masuk", "entering"),
    "sim.left": ("keluar", "leaving"),
    "sim.gained": ("naik", "gaining"),
    "sim.lost": ("turun", "losing"),
    "sim.by_province": ("Per provinsi (setahun)", "By province (a year)"),
    "sim.by_decile": ("Per desil (setahun)", "By desil (a year)"),
    "sim.components": ("Anggota per komponen (per siklus)", "Members by component (a cycle)"),
    "sim.persons": ("Orang", "Persons"),
    "sim.download": ("Unduh XLSX", "Download XLSX"),
    "sim.delete": ("Hapus simulasi", "Delete the simulation"),
    "sim.by": ("Oleh", "By"),
    "sim.map": ("Selisih anggaran setahun per provinsi", "Yearly budget difference by province"),
    "sim.map.png": ("Unduh peta PNG", "Download the map (PNG)"),
    "sim.map.hint": (
        "Arahkan penunjuk (atau sentuh) provinsi untuk melihat angkanya; angka lengkap ada di "
        "tabel.",
        "Point at (or touch) a province to see its figure; the table has every figure.",
    ),
    "sim.compare": ("Bandingkan berdampingan", "Compare side by side"),
    "sim.compare.title": ("Simulasi berdampingan", "Simulations side by side"),
    "sim.compare.pick": (
        "Centang 2 sampai 4 simulasi, lalu bandingkan.",
        "Tick 2 to 4 simulations, then compare.",
    ),
    "sim.compare.absent": ("tidak ada di simulasi ini", "not in this simulation"),
    "sim.download_csv": ("Unduh CSV", "Download CSV"),
    "sim.beneficiaries": ("Penerima", "Beneficiaries"),
    "sim.budget": ("Anggaran setahun", "Yearly budget"),
    "sim.decile": ("Desil", "Desil"),
    "sim.province": ("Provinsi", "Province"),
}
