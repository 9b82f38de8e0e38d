"""Record layouts of CMS file formats, as package data (see SOURCES.md)."""
