"""Rules of specific public payment programs, as data with citations (MSSP, ...)."""
