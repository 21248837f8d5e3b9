"""Small wording helpers shared by the CLI and the use cases' text output."""

from __future__ import annotations

# Words whose plural is not the word + "s".
_IRREGULAR = {"entry": "entries", "was": "were"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 team', '2 teams', '0 teams'; ``many`` for a plural that is not word + 's'."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or _IRREGULAR.get(word) or word + 's'}"


_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "delete/create": "-/+", "create/delete": "+/-",
            "replace": "-/+"}


def change_line(actions: list[str] | tuple[str, ...] | str, address: str) -> str:
    """One planned change as terraform prints it: '+ address', '~ address', '-/+ address (replace)'.
    ``actions`` as in a plan's resource_changes (["delete", "create"]) or joined ("delete/create")."""
    key = actions if isinstance(actions, str) else "/".join(actions)
    sym = _SYMBOLS.get(key, key)
    return f"{sym} {address}" + (" (replace)" if sym in ("-/+", "+/-") else "")
