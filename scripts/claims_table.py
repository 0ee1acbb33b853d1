"""Publish a reproduction's claims: `python scripts/claims_table.py OUT` reads OUT/reproduce.json (from
`grokscope reproduce NAME [--quick] --seeds 3 --out OUT`), writes its claims, rows and notes (not the raw
data) to docs/data/claims/NAME[_quick].json and the table into docs/papers/NAME.md between
`<!-- claims:NAME[_quick] -->` and `<!-- /claims -->` (a "## Claims" section appended if absent).
tests/docs/test_docs.py checks that every page's table is the one its JSON gives."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grokscope.reproduce.common import claims_markdown

ROOT = Path(__file__).resolve().parents[1]


def publish(doc: dict, key: str) -> tuple[Path, Path]:
    """Write `doc` (a slim reproduce.json: name, quick, seeds, wall_s, claims, …) to docs/data/claims/KEY.json
    and its table into the paper's page between the KEY markers (a "## Claims" section appended if absent)."""
    data = ROOT / "docs/data/claims" / f"{key}.json"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    page = ROOT / "docs/papers" / f"{doc['name']}.md"
    text, start, end = page.read_text(), f"<!-- claims:{key} -->", "<!-- /claims -->"
    block = f"{start}\n{claims_markdown(doc)}{end}"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        form = "quick" if doc["quick"] else "full"
        text = text.rstrip("\n") + (f"\n\n## Claims ({form} form)\n\nEach claim of the paper as a check over seeds "
                                    f"([`{data.name}`](../data/claims/{data.name})):\n\n{block}\n")
    page.write_text(text)
    return data, page


def main(out: Path) -> None:
    doc = json.loads((out / "reproduce.json").read_text())
    slim = {k: doc[k] for k in ("name", "title", "quick", "seed", "seeds", "wall_s", "rows", "claims", "notes")}
    data, page = publish(slim, doc["name"] + ("_quick" if doc["quick"] else ""))
    print(f"wrote {data.relative_to(ROOT)} and the table in {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
