"""Civil registry (Dukcapil) matching ("padan"): an extract of the civil registry imported and
every registry member in the area it covers marked matched, mismatched (which fields),
deceased or not found; deceased and not-found members, and NIKs the extract corrects, proposed
as change requests through the usual workflow; the match rate reported per region.

`models.py` (tables), `errors.py` (the row-level codes), `extract.py` (reading and checking the
extract, row by row, in DuckDB), `matching.py` (the outcome of each member, in DuckDB),
`updates.py` (the change requests an import proposes), `rejects.py` (the reject file),
`service.py` (`import_extract`: the flow; an import's result), `report.py` (the match rate per
region), `export.py` (the report as CSV and XLSX). docs/ARCHITECTURE.md, "Civil registry
(Dukcapil) matching".
"""
