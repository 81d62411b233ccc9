"""Reports: realisation of cash programs per program × cycle × region (`realisation.py`), as
CSV and XLSX (`exports.py`) and as charts (`charts.py`), in Indonesian (`labels.py`)."""
