"""Judge: classification metrics (Tables 2 and 3) and localisation metrics."""
