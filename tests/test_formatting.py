"""Numbers as the screen shows them: never more certain or more precise than they are."""

import pytest

from tui.formatting import confidence


@pytest.mark.parametrize("value,shown", [(None, ""), (0.0, "0%"), (0.42, "42%"), (0.994, "99%"),
                                         (0.995, ">99%"), (0.99999, ">99%"), (1.0, ">99%")])
def test_confidence_never_rounds_up_to_certainty(value, shown):
    assert confidence(value) == shown
