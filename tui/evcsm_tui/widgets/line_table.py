"""A table that renders only the rows on screen: thousands of rows cost what a screenful costs.

Textual's DataTable keeps every cell of every row as a renderable and measures them all: with
5,000 chargers, adding the rows takes ~0.4 s, rendering them ~0.9 s and updating one cell ~30 µs,
so a fleet whose every row changes each second saturates a core. `LineTable` (Textual's Line
API) keeps only the order of the row keys. A subclass says what a row shows (`row_cells`, plain
strings with component classes), and the table asks for the rows on screen alone: `update_rows()`
compares each visible row with what it shows and repaints the lines whose cells changed, and a
row that scrolls into view is built then. Off-screen rows cost nothing.

Keys: ↑/↓, page up/down, home/end move the cursor; a click selects a row. The look follows the
DataTable's: a bold header, zebra stripes and a block cursor, from the component classes below.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Span = tuple[str, str | None]
"""A run of text and the component class that styles it (None: the row's style)."""
Cell = tuple[Span, ...]
Row = tuple[Cell, ...]
CELL_PADDING = 1


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header, its key, its width in cells and how its text is aligned."""

    label: str
    key: str
    width: int
    justify: Literal["left", "right"] = "left"
    grow: bool = False
    """Takes the width the other columns leave (at least `width`)."""


def plain(cell: Cell) -> str:
    """A cell's text without its styles."""
    return "".join(text for text, _ in cell)


class LineTable(ScrollView, can_focus=True):
    """Rows identified by string keys; the subclass renders a row from its key."""

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .table--header { background-tint: $foreground 5%; }
        }
        &:dark > .table--even-row { background: $surface-darken-1 40%; }
        & > .table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .table--odd-row { }
        & > .table--even-row { background: $surface-lighten-1 50%; }
        & > .table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "table--header",
        "table--cursor",
        "table--even-row",
        "table--odd-row",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=False)
    """Index of the highlighted row among the rows shown."""

    class Highlighted(Message):
        """The cursor moved to another row (`key` None when the table is empty)."""

        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._columns = tuple(columns)
        self._keys: Sequence[str] = ()
        self._index: dict[str, int] = {}
        self._shown: dict[str, Row] = {}
        """What each row on screen shows; rows off screen are not kept."""
        self._strips: dict[str, tuple[object, Strip]] = {}
        self.cells_written = 0
        """How many cells have been drawn with new content: a row's unchanged cells never count."""

    # What the subclass provides.

    def row_cells(self, key: str) -> Row:
        """The cells of the row `key`, one per column."""
        raise NotImplementedError

    # Rows.

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, left to right."""
        return self._columns

    @property
    def keys(self) -> Sequence[str]:
        """The keys of the rows, top to bottom."""
        return self._keys

    @property
    def selected(self) -> str | None:
        """The key under the cursor, or None when there are no rows."""
        if not self._keys:
            return None
        return self._keys[min(self.cursor_row, len(self._keys) - 1)]

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the columns (and so every row's look)."""
        self._columns = tuple(columns)
        self._forget()
        self._resize()

    def set_rows(self, keys: Sequence[str], *, keep: str | None = None) -> None:
        """Show the rows `keys` in this order, the cursor on `keep` when it is among them."""
        before = self.selected
        self._keys = keys
        self._index = {key: index for index, key in enumerate(keys)}
        self._forget()
        self._resize()
        target = self._index.get(keep, self.cursor_row) if keep is not None else self.cursor_row
        self.set_reactive(LineTable.cursor_row, self._clamp(target))
        self._scroll_to_cursor()
        if self.selected != before:
            self.post_message(self.Highlighted(self.selected))

    def update_rows(self) -> int:
        """Bring the rows on screen up to date; returns how many rows were repainted."""
        visible = self._visible_keys()
        repainted = 0
        for offset, key in enumerate(visible):
            cells = self.row_cells(key)
            old = self._shown.get(key)
            if old == cells:
                continue
            self._shown[key] = cells
            self.cells_written += (
                len(cells) if old is None else sum(a != b for a, b in zip(old, cells, strict=True))
            )
            self.refresh_line(int(self.scroll_y) + offset + 1)
            repainted += 1
        keep = set(visible)
        if not keep.issuperset(self._shown):  # rows that left the screen are built anew
            self._shown = {k: v for k, v in self._shown.items() if k in keep}
            self._strips = {k: v for k, v in self._strips.items() if k in keep}
        return repainted

    def row_text(self, key: str) -> dict[str, str]:
        """The row's cells as plain text by column key (empty when there is no such row)."""
        if key not in self._index:
            return {}
        cells = self.row_cells(key)
        return {column.key: plain(cell) for column, cell in zip(self._columns, cells, strict=True)}

    # Cursor.

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row `row` (clamped to the rows shown)."""
        self.cursor_row = self._clamp(row)

    def action_cursor(self, step: int) -> None:
        """Move the cursor up or down."""
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        """Move the cursor a screenful."""
        self.move_cursor(self.cursor_row + direction * max(1, self.size.height - 1))

    def action_cursor_to(self, row: int) -> None:
        """Move the cursor to the first row (0) or the last (-1)."""
        self.move_cursor(row if row >= 0 else len(self._keys) - 1)

    def watch_cursor_row(self, old: int, new: int) -> None:
        """Repaint the two rows, keep the cursor in view, tell the screen."""
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_cursor()
        self.post_message(self.Highlighted(self.selected))

    def on_click(self, event: events.Click) -> None:
        """Select the clicked row."""
        row = event.y - 1 + int(self.scroll_y)
        if event.y >= 1 and 0 <= row < len(self._keys):
            self.move_cursor(row)

    # Rendering.

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then the rows from the scroll position."""
        width = self.size.width
        if y == 0:
            header: Row = tuple(((column.label, None),) for column in self._columns)
            return self._strip(header, self.get_component_rich_style("table--header"), width)
        index = y - 1 + int(self.scroll_y)
        if not 0 <= index < len(self._keys):
            return Strip.blank(width, self.rich_style)
        key = self._keys[index]
        cells = self._shown.get(key)
        if cells is None:
            cells = self._shown[key] = self.row_cells(key)
            self.cells_written += len(cells)
        post: Style | None = None
        if index == self.cursor_row:  # the cursor's colours win over the cells' own
            post = self.get_component_rich_style("table--cursor")
            style = self.rich_style + post
        else:
            parity = "table--odd-row" if index % 2 else "table--even-row"
            style = self.rich_style + self.get_component_rich_style(parity)
        signature = (cells, style, width, int(self.scroll_x))
        cached = self._strips.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        strip = self._strip(cells, style, width, post)
        self._strips[key] = (signature, strip)
        return strip

    def _strip(self, cells: Row, row_style: Style, width: int, post: Style | None = None) -> Strip:
        pad = Segment(" " * CELL_PADDING, row_style)
        segments: list[Segment] = []
        spare = max(0, self.scrollable_content_region.width - self.virtual_size.width)
        for column, cell in zip(self._columns, cells, strict=True):
            segments.append(pad)
            wide = replace(column, width=column.width + spare) if column.grow else column
            segments.extend(self._cell_segments(wide, cell, row_style, post))
            segments.append(pad)
        line = Strip(segments).crop(int(self.scroll_x), int(self.scroll_x) + width)
        return line.extend_cell_length(width, row_style).simplify()

    def _cell_segments(
        self, column: Column, cell: Cell, row_style: Style, post: Style | None
    ) -> list[Segment]:
        text_width = sum(cell_len(text) for text, _ in cell)
        spans = list(cell)
        if text_width > column.width:  # crop from the right, ending in an ellipsis
            joined = set_cell_size(plain(cell), column.width - 1) + "…"
            spans = [(joined, cell[0][1] if cell else None)]
            text_width = column.width
        gap = Segment(" " * (column.width - text_width), row_style)
        segments = [
            Segment(text, self._span_style(row_style, name, post) if name else row_style)
            for text, name in spans
        ]
        return [gap, *segments] if column.justify == "right" else [*segments, gap]

    def _span_style(self, row_style: Style, name: str, post: Style | None) -> Style:
        style = row_style + self.get_component_rich_style(name, partial=True)
        return style + Style(color=post.color, bgcolor=post.bgcolor) if post else style

    # Geometry.

    def _visible_keys(self) -> Sequence[str]:
        start = int(self.scroll_y)
        return self._keys[start : start + max(0, self.size.height - 1)]

    def _resize(self) -> None:
        width = sum(column.width + 2 * CELL_PADDING for column in self._columns)
        self.virtual_size = Size(width, len(self._keys) + 1)
        self.refresh(layout=True)

    def _forget(self) -> None:
        self._shown.clear()
        self._strips.clear()

    def _clamp(self, row: int) -> int:
        return max(0, min(row, len(self._keys) - 1))

    def _scroll_to_cursor(self) -> None:
        rows_on_screen = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows_on_screen:
            self.scroll_to(y=self.cursor_row - rows_on_screen + 1, animate=False)
