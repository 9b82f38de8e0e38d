"""Reference data of apmkit.quality (value sets, PQI code prefixes); provenance in SOURCES.md."""
