"""Helpers for tests: small, hand-checkable inputs (DICOM files, images, models) and tiny torchrun jobs."""
