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
}
