"""Run: methods applied to a dataset's images, with cached per-image artifacts."""
