"""ibis expressions that give the same answer on DuckDB and Spark where ibis's own do not.

Use these instead of the ibis methods they replace; each records the divergence that was measured.
"""

from __future__ import annotations

import ibis.expr.types as ir

# Blanks around a value, as real characters: no backslash escapes, because Spark SQL drops the backslash of
# escapes it does not know. ibis compiles str.strip() to TRIM(' \t\n\r\v\f' FROM x), which on Spark also
# trims the letters v and f: "void" became "oid", "snf" became "sn".
_EDGE_BLANKS = "^[ \t\r\n]+|[ \t\r\n]+$"


def trim_text(text: ir.StringValue) -> ir.StringValue:
    """``text`` without surrounding blanks, identically on DuckDB and Spark (replaces ``str.strip()``)."""
    return text.re_replace(_EDGE_BLANKS, "")
