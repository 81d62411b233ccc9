"""In-kind aid (ATENSI assistive devices, Tagana disaster relief): programs, an item catalogue
an admin extends, distributions to persons imported from CSV, and the realisation report
(distinct persons, distributions, quantity and value per program and region).

`models.py` (tables), `catalog.py` (programs and items), `rows.py` (reading and checking a
distribution file, row by row), `importer.py` (`import_distributions`: the flow),
`matching.py` (the registry member of each NIK, the handovers recorded under the same keys),
`loading.py` (the accepted rows, their import row and audit event), `rejects.py` (the reject
file), `report.py` (the realisation report), `export.py` (the report as CSV and XLSX, safe
against spreadsheet formulas), `views.py` (distributions, listed), `errors.py` (the row-level
error codes). docs/ARCHITECTURE.md, "In-kind aid".
"""
