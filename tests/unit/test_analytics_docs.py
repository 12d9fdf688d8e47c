"""docs/analytics.md's tables are services/contracts/exports.py's, so that what an analyst reads is what the
exporters write. `python -m tests.unit.test_analytics_docs` prints the section to paste."""

from __future__ import annotations

from pathlib import Path

from services.contracts.exports import PARTITION, TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
BEGIN = "<!-- export tables: generated from services/contracts/exports.py by tests/unit/test_analytics_docs.py -->"
END = "<!-- end of the export tables -->"


def tables_section() -> str:
    parts = []
    for table in TABLES:
        latest = (f" A log of states: the latest row per {', '.join(f'`{k}`' for k in table.key)} by "
                  f"`{table.latest_by}` is the current one." if table.latest_by else "")
        parts += [f"### `{table.name}`", "",
                  f"Exported by {table.owner}. {table.description} Partitioned by the UTC date of `{table.time_column}`; "
                  f"a row is identified by {', '.join(f'`{k}`' for k in table.key)}.{latest}", "",
                  "| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
        parts += [f"| `{c.name}` | {c.type} | {c.unit or ''} | {c.meaning} |" for c in (*table.columns, PARTITION)]
        parts.append("")
    return "\n".join(parts).rstrip()


def test_the_tables_are_the_contract() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lost the markers around its tables"
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == tables_section(), "regenerate it: python -m tests.unit.test_analytics_docs"


if __name__ == "__main__":
    print(tables_section())
