"""The files a linkage run writes, as the review queue and the reports read them.

A run writes, in its folder:

- `pairs.parquet`: one row per scored pair above the run's lowest kept weight, the smaller
  record id on the left. Columns: `PAIR_KEYS`, `match_weight` and `match_probability`
  (DOUBLE: log2 odds and probability, never money), and for each comparison NAME of the
  settings two columns: `level_NAME` (VARCHAR, the level's label, for example "exact" or
  "Jaro-Winkler >= 0.92") and `weight_NAME` (DOUBLE, the log2 Bayes factor the level
  contributed: the waterfall). `prior_weight` (DOUBLE) is the starting weight of the waterfall,
  the same on every row.
- `clusters.parquet`: `record_id` (BIGINT), `cluster_id` (BIGINT, the smallest record id of
  its cluster), `source` (VARCHAR): every record of the run, a singleton its own cluster.
- `model.json`: the trained parameters (Splink's settings with m and u), kept as data.

A record is a registry member (`record_id` = `member.id`, `source` = "registry") or a row of
another source (a batch, another registry's export, a civil-registry extract), named by
`source` and its own row number there.
"""

from __future__ import annotations

PAIRS_FILE = "pairs.parquet"
CLUSTERS_FILE = "clusters.parquet"
MODEL_FILE = "model.json"

# (left record, its source, right record, its source)
PAIR_KEYS = ("record_id_l", "source_l", "record_id_r", "source_r")
SCORE_COLUMNS = ("match_weight", "match_probability", "prior_weight")
CLUSTER_COLUMNS = ("record_id", "cluster_id", "source")
LEVEL_PREFIX = "level_"
WEIGHT_PREFIX = "weight_"
REGISTRY_SOURCE = "registry"


def comparison_names(columns: list[str]) -> list[str]:
    """The comparisons a pairs file carries, in its column order."""
    return [name.removeprefix(LEVEL_PREFIX) for name in columns if name.startswith(LEVEL_PREFIX)]
