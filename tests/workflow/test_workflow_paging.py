"""A page of a listing stays a plain list to everything that copies lists."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

from ecgdesk.workflow.paging import Rows


@dataclass
class _View:
    rows: list[dict[str, int]] = field(default_factory=list)


def test_a_page_inside_a_view_turns_into_json_like_any_list() -> None:
    page = Rows([{"id": 1}, {"id": 2}], total=40)
    # dataclasses.asdict rebuilds a list subclass from its items alone: claims show failed on that
    assert asdict(_View(page)) == {"rows": [{"id": 1}, {"id": 2}]}
    assert copy.copy(page) == page and copy.deepcopy(page).total == 40
    assert Rows([{"id": 3}]).total == 1 and page.total == 40
