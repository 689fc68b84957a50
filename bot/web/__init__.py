"""The read-only web site and feeds (`bot web`, and inside `bot run` when `web:` is configured).

The only package that imports Starlette, Jinja2 or uvicorn. `site` builds the ASGI app (pages,
feeds, safety rails), `views` reads what a page shows from the store, `feeds` writes Atom, JSON
Feed and OPML, and `server` runs uvicorn on the event loop the caller already has.
"""
