"""Regenerate the parameter tables in docs/ODD.md from the declarations in quartiersim.parameters."""

from pathlib import Path

from quartiersim.parameters import markdown_tables

BEGIN, END = "<!-- parameters:begin -->", "<!-- parameters:end -->"

if __name__ == "__main__":
    path = Path(__file__).parent / "ODD.md"
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    path.write_text(f"{head}{BEGIN}\n{markdown_tables()}{END}{tail}", encoding="utf-8")
    print(f"updated {path}")
