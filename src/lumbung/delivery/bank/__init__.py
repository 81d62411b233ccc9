"""The bank channel (issue 16, item 3): payment files out, status files in.

`pain001` writes an approved batch as an ISO 20022 pain.001.001.09 credit transfer
initiation, `csvfile` as the CSV layout of a bank that takes CSV (BTN); both stream the batch's
items from the database (`items`), checking them against the batch's frozen digest on the way,
into a temporary file renamed into place only when everything matched (`output`). `service`
is the use case (`write_payment_file`). `pain002` and `statement` read what banks send back
(pain.002 status reports, CSV statements) into `OutcomeRow`s for `delivery.outcomes`, each
problem collected with its row, never stopping at the first.
"""
