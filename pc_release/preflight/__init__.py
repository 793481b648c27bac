"""Local preflight machinery: report parsers, failure classification, kind parity and the parallel runner."""
