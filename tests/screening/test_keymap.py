"""Keyboard map validation and per-user storage."""

import pytest

from screening.keymap import DEFAULT_KEYMAP, KeymapError, keymap_for, keymap_validate
from screening.services import preference_set_keymap


def test_partial_map_is_completed_with_defaults():
    keymap = keymap_validate({"include": ["Y"], "exclude": "n"})
    assert keymap["include"] == ["y"] and keymap["exclude"] == ["n"]
    assert keymap["next"] == DEFAULT_KEYMAP["next"]


def test_one_key_cannot_do_two_things():
    with pytest.raises(KeymapError, match="both include and exclude"):
        keymap_validate({"include": ["x"], "exclude": ["x"]})


@pytest.mark.parametrize("bad", [{"include": ["ctrl+i"]}, {"explode": ["x"]}, {"undo": []}, []])
def test_invalid_maps_are_refused(bad):
    with pytest.raises(KeymapError):
        keymap_validate(bad)


def test_stored_per_user(cast):
    preference_set_keymap(user=cast.alice, keymap={"include": ["1"], "exclude": ["2"]})
    assert keymap_for(cast.alice)["include"] == ["1"]
    assert keymap_for(cast.bob)["include"] == ["i"]
