"""People moves: who joined, left, founded, returned to or was appointed at which company.

Why rules and not a model: news states a move in a few fixed ways in both languages ("X joins Y",
"Y hires X", "X steps down as CEO", "X 加盟 Y", "Y 任命 X 为…", "X 从 Y 离职"), names have
recognisable shapes (two or three capitalised Latin tokens; a Han surname plus one or two
characters after a title word; a transliteration with a middle dot), and a false move in a digest
costs more than a missed one. So: find a move verb, take the person from the side of the verb its
construction puts them on (subject, object, "by"/"被" agent), the organisation from the slot after
it (or, for "joins as chief scientist" / "任 CEO", from the item's context), and drop what is
stated as background ("who joined Google in 2013", "曾…"), negated, or not about a company.

Pure functions of text; no I/O and no model. The gazetteers hold only widely known companies and
labs (to tell organisations from people, and to map Chinese company names); everything else is
recognised by shape.

The package, imports pointing one way (each module imports only those listed before it):
`lexicon` (word lists, gazetteers, move verbs) and `model` (the records); `entities` (person and
organisation spans); `english` and `chinese` (the move rules of each language); `resolve` (one
move per person and destination, spellings settled across a story); `extract` (one item, start
to end); and this module, which re-exports the public API.
"""

from bot.ingest.people.extract import extract_moves
from bot.ingest.people.model import ACTIONS, Move
from bot.ingest.people.resolve import move_signature, resolve_story_moves

__all__ = ["ACTIONS", "Move", "extract_moves", "move_signature", "resolve_story_moves"]
