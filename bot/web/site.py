"""The read-only web site: Starlette routes, Jinja2 pages in the reader's language, feeds, and the safety rails.

Pages are rendered on the server and work without JavaScript (there is none). The reader's
language is `?lang=zh|en`, else the best of `Accept-Language`, else English; internal links carry
it on. Safe to expose:
- only GET/HEAD routes; nothing reads or shows subscribers, follows, deliveries or admin data;
- Jinja2 autoescapes every value, feeds are built by XML/JSON serializers, and only http(s) links
  become hrefs;
- every response carries a Content-Security-Policy that allows no script at all;
- search (and the person page, which searches) is bounded in length and rate per client address;
- an unknown story, theme or path is a 404 page, any failure a 500 page, never a traceback.

Store work runs in a worker thread under the app's lock (`App.run`), so a slow query never blocks
the event loop that the bot and the scheduler share with this site in `bot run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.app import App
from bot.core.words import LANGS, theme_heading, word
from bot.query.answer import answer_question
from bot.query.llm import make_llm
from bot.query.search import search_stories
from bot.web import feeds, views

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
SEARCH_STORIES = 8
HOME_PER_THEME = 6  # stories shown per theme on the home page; the theme page has the rest
SEARCH_BURST = 10  # searches a client may make at once …
SEARCH_PER_MINUTE = 20  # … and how fast that allowance refills
TRACKED_CLIENTS = 10_000  # the rate limiter forgets the least recent client beyond this
CHART_CACHE = 32
STYLE = Path(__file__).parent / "static" / "style.css"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class RateLimiter:
    """A token bucket per client address: `burst` requests at once, refilled at `per_minute`."""

    def __init__(self, burst: int = SEARCH_BURST, per_minute: float = SEARCH_PER_MINUTE) -> None:
        self.burst, self.rate = burst, per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return allowed


class SecurityHeaders:
    """Adds the security headers to every response, error pages included (it wraps the whole app)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def reader_language(request: Request) -> str:
    """`?lang=` when it names one of ours, else the most preferred of ours in Accept-Language, else English."""
    asked = request.query_params.get("lang", "")
    if asked in LANGS:
        return asked
    return accepted_language(request.headers.get("accept-language", ""))


def accepted_language(header: str) -> str:
    best, best_q = "en", 0.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


def safe_href(url: str) -> str:
    """Only http(s) URLs with a host become links; anything else (javascript:, data:) becomes no link."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def create_site(app: App) -> ASGIApp:
    """The site over `app` (settings read per request, store read through `app.run`)."""
    site = _Site(app)
    routes = [
        Route("/", site.home),
        Route("/story/{story_id:int}", site.story),
        Route("/search", site.search),
        Route("/theme/{name}", site.theme),
        Route("/theme/{name}/chart.png", site.chart),
        Route("/who", site.person),
        Route("/feeds", site.feed_index),
        Route("/feeds.opml", site.opml),
        Route("/feeds/{file}", site.feed),
        Route("/style.css", site.style),
    ]
    handlers: dict[Any, Any] = {HTTPException: site.error, Exception: site.failure}
    return SecurityHeaders(Starlette(routes=routes, exception_handlers=handlers))


class _Site:
    def __init__(self, app: App) -> None:
        self.app = app
        environment = Environment(
            loader=PackageLoader("bot.web", "templates"), autoescape=True, undefined=StrictUndefined
        )
        environment.filters["href"] = safe_href
        self.templates = Jinja2Templates(env=environment)
        self.limiter = RateLimiter()
        self.related = views.RelatedCache()
        self.charts: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()

    # -- pages ---------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        lang = reader_language(request)
        sections = await self.app.run(views.home, self.app.pipeline, self.app.settings, lang)
        return self._page(request, "home.html", lang, sections=sections, per_theme=HOME_PER_THEME)

    async def story(self, request: Request) -> Response:
        lang = reader_language(request)
        story_id = request.path_params["story_id"]
        page = await self.app.run(views.story_page, self.app.pipeline, story_id, lang, self.related)
        if page is None:
            raise HTTPException(404)
        return self._page(request, "story.html", lang, page=page)

    async def search(self, request: Request) -> Response:
        lang = reader_language(request)
        query = self._query(request, "q")
        if not query:
            return self._page(request, "search.html", lang, query="", answer=None, hits=[])
        hits = await self.app.run(search_stories, self.app.pipeline, query, SEARCH_STORIES)
        settings = self.app.settings
        answer = await asyncio.to_thread(answer_question, query, hits, settings, make_llm(settings))
        return self._page(request, "search.html", lang, query=query, answer=answer, hits=hits)

    async def theme(self, request: Request) -> Response:
        lang, name = reader_language(request), self._theme(request)
        cards = await self.app.run(views.theme_stories, self.app.pipeline, name, lang)
        return self._page(request, "theme.html", lang, theme=name, cards=cards)

    async def chart(self, request: Request) -> Response:
        lang, name = reader_language(request), self._theme(request)
        grown = await self.app.run(self.app.store.count_stories)  # a chart is redrawn once the store has grown
        key = (name, lang, grown)
        if key not in self.charts:
            self.charts[key] = await self.app.run(views.theme_chart, self.app.pipeline, name, lang)
            while len(self.charts) > CHART_CACHE:
                self.charts.popitem(last=False)
        return Response(self.charts[key], media_type="image/png", headers={"Cache-Control": "max-age=600"})

    async def person(self, request: Request) -> Response:
        lang = reader_language(request)
        name = self._query(request, "name")
        events = await self.app.run(views.person, self.app.pipeline, name, lang) if name else []
        return self._page(request, "person.html", lang, name=name, events=events)

    async def feed_index(self, request: Request) -> Response:
        lang = reader_language(request)
        return self._page(request, "feeds.html", lang, feeds=self._feeds(request, lang, []))

    # -- feeds ---------------------------------------------------------------------------------

    async def feed(self, request: Request) -> Response:
        name, _, kind = request.path_params["file"].rpartition(".")
        if kind not in feeds.KINDS or not (name == "all" or name in views.known_themes(self.app.settings)):
            raise HTTPException(404)
        lang = request.query_params.get("lang", "en")
        if lang not in LANGS:
            raise HTTPException(404)
        stories = await self.app.run(views.feed_stories, self.app.pipeline, None if name == "all" else name)
        feed = self._feeds(request, lang, stories, only=name)[0]
        headers = {**feeds.validators(feed, kind), "Cache-Control": "max-age=300", "Vary": "Accept-Encoding"}
        if feeds.not_modified(request.headers, headers):
            return Response(status_code=304, headers=headers)
        body = feeds.atom(feed) if kind == "atom" else feeds.json_feed(feed)
        return Response(body, headers=headers, media_type=feeds.KINDS[kind])

    async def opml(self, request: Request) -> Response:
        lang = request.query_params.get("lang", "en")
        if lang not in LANGS:
            raise HTTPException(404)
        body = feeds.opml(word("web.site_title", lang), self._feeds(request, lang, []))
        return Response(body, media_type=feeds.OPML_TYPE)

    def _feeds(
        self, request: Request, lang: str, stories: list[views.FeedStory], only: str | None = None
    ) -> list[feeds.Feed]:
        names = ["all", *views.known_themes(self.app.settings)]
        return [
            feeds.Feed(name, self._feed_title(name, lang), lang, self._base(request), stories)
            for name in names
            if only is None or name == only
        ]

    def _feed_title(self, name: str, lang: str) -> str:
        heading = word("web.all_themes", lang) if name == "all" else theme_heading(name, lang)
        return word("web.feed_title", lang, name=heading)

    def _base(self, request: Request) -> str:
        web = self.app.settings.web
        return (web.base_url if web and web.base_url else str(request.base_url)).rstrip("/")

    # -- the rest ------------------------------------------------------------------------------

    async def style(self, request: Request) -> Response:
        return Response(STYLE.read_bytes(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    async def error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        lang = reader_language(request)
        if status == 404:
            title, text = word("web.not_found", lang), word("web.not_found_text", lang)
        elif status in (400, 429):
            title, text = word("web.search", lang), str(exc.detail) if isinstance(exc, HTTPException) else ""
        else:
            title, text = word("web.error", lang), word("web.error_text", lang)
        headers = getattr(exc, "headers", None) or {}
        return self._page(request, "error.html", lang, status=status, title=title, text=text, headers=headers)

    async def failure(self, request: Request, exc: Exception) -> Response:
        """Any other failure: logged here, a plain 500 page for the reader (plain text if even that fails)."""
        log.error("web page %s failed", request.url.path, exc_info=exc)
        try:
            return await self.error(request, exc)
        except Exception:
            log.exception("the error page failed too")
            return PlainTextResponse("500 Internal Server Error", status_code=500)

    def _query(self, request: Request, name: str) -> str:
        """A search-like parameter: bounded in length, and in rate per client address."""
        value = " ".join(request.query_params.get(name, "").split())
        if not value:
            return ""
        lang = reader_language(request)
        if len(value) > MAX_QUERY_CHARS:
            raise HTTPException(400, word("web.too_long", lang, n=MAX_QUERY_CHARS))
        if not self.limiter.allow(request.client.host if request.client else ""):
            raise HTTPException(429, word("web.rate_limited", lang), headers={"Retry-After": "60"})
        return value

    def _theme(self, request: Request) -> str:
        name = str(request.path_params["name"])
        if name not in views.known_themes(self.app.settings):
            raise HTTPException(404)
        return name

    def _page(
        self, request: Request, template: str, lang: str, *, status: int = 200, headers: Any = None, **context: Any
    ) -> Response:
        def link(path: str, **params: object) -> str:
            return f"{path}?{urlencode({**params, 'lang': lang})}"

        def switch() -> str:
            params = {**request.query_params, "lang": "zh" if lang == "en" else "en"}
            return f"{request.url.path}?{urlencode(params)}"

        context.update(
            lang=lang,
            w=lambda key, **slots: word(key, lang, **slots),
            theme_name=lambda theme: theme_heading(theme, lang),
            outlets=lambda count: views.outlets_text(count, lang),
            link=link,
            switch_url=switch(),
            status=status,
            themes=views.known_themes(self.app.settings),
        )
        response = self.templates.TemplateResponse(
            request, template, context, status_code=status, headers={**(headers or {}), "Vary": "Accept-Language"}
        )
        return response
