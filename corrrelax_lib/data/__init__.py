"""Dataset descriptions: VinDr-Mammo schema, label grouping and the embedded phantoms."""
