"""Keyboard shortcuts of the screening page and their per-user remapping."""

from __future__ import annotations

from typing import Any

from reviews.errors import DomainError

ACTIONS: dict[str, str] = {
    "include": "Include",
    "exclude": "Exclude",
    "maybe": "Maybe",
    "undo": "Undo my last decision",
    "prev": "Previous record",
    "next": "Next record",
}
# Two keys per action: a letter and an alternative (arrow keys move, as in most readers).
DEFAULT_KEYMAP: dict[str, list[str]] = {
    "include": ["i"],
    "exclude": ["e"],
    "maybe": ["m"],
    "undo": ["u"],
    "prev": ["ArrowLeft", "k"],
    "next": ["ArrowRight", "j"],
}
NAMED_KEYS = {"ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Enter", "Home", "End"}
KEY_LABELS = {"ArrowLeft": "←", "ArrowRight": "→", "ArrowUp": "↑", "ArrowDown": "↓"}


class KeymapError(DomainError):
    """A remapping that is not a valid key or gives one key two actions."""


def normalise_key(key: str) -> str:
    key = (key or "").strip()
    if key in NAMED_KEYS:
        return key
    if len(key) == 1 and key.isprintable() and not key.isspace():
        return key.lower()
    raise KeymapError(
        f"“{key}” is not a key that can be mapped: use one letter, digit or sign, "
        f"or one of {', '.join(sorted(NAMED_KEYS))}.",
        field="keymap",
    )


def keymap_validate(raw: dict) -> dict[str, list[str]]:
    """Return a complete keymap from a partial one; refuse a key used for two actions."""
    if not isinstance(raw, dict):
        raise KeymapError("The keymap must map actions to keys.", field="keymap")
    unknown = set(raw) - set(ACTIONS)
    if unknown:
        raise KeymapError(f"Unknown action(s): {', '.join(sorted(unknown))}.", field="keymap")
    result: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for action in ACTIONS:
        keys = raw.get(action, DEFAULT_KEYMAP[action])
        if isinstance(keys, str):
            keys = [keys]
        keys = [normalise_key(k) for k in keys if str(k).strip()]
        if not keys:
            raise KeymapError(f"{ACTIONS[action]} needs at least one key.", field="keymap")
        for key in keys:
            if key in owner and owner[key] != action:
                raise KeymapError(
                    f"The key “{key}” is used for both {ACTIONS[owner[key]].lower()} and "
                    f"{ACTIONS[action].lower()}.",
                    field="keymap",
                )
            owner[key] = action
        result[action] = list(dict.fromkeys(keys))
    return result


_NOT_READ = object()


def keymap_for(user, *, stored: Any = _NOT_READ) -> dict[str, list[str]]:
    """The user's keymap (defaults where they have not remapped); ``stored``: their stored
    keymap when the caller has read it already (``None``: they have none)."""
    from .models import ScreeningPreference

    if stored is _NOT_READ:
        pref = ScreeningPreference.objects.filter(user=user).first()
        stored = pref.keymap if pref is not None else None
    if not stored:
        return {a: list(k) for a, k in DEFAULT_KEYMAP.items()}
    try:
        return keymap_validate(stored)
    except KeymapError:
        return {a: list(k) for a, k in DEFAULT_KEYMAP.items()}


def key_label(key: str) -> str:
    return KEY_LABELS.get(key, key.upper() if len(key) == 1 else key)
