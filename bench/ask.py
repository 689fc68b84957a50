"""A question to a running bot: `/ask` through `bot run` and real python-telegram-bot, at N stored items.

Builds N synthetic items (bench/search.py's generator, written through the real store and index),
starts `bot run` against the Bot API stand-in of the tests (tests/botapi.py, on 127.0.0.1) and
times, from the moment a user's message is queued to the moment the bot's reply is recorded:

- `/ask` with the search bench's English and Chinese questions, in turn (`--requests` of them);
- `/help` the same number of times: the floor of one round trip (long poll, PTB, sendMessage) with
  no store work, measured in the same run, so the ratio says what answering itself costs.

The first `WARM_UP` questions are left out (they load the model). Peak RSS is the bot's VmHWM.

    python bench/ask.py [--n 100000] [--requests 200] [--json]

Target (issue 17): `/ask` p95 < 100 ms at 100k items on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.ingest.embed import UseEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from botapi import TOKEN, BotApi  # the stand-in the tests use
from search import QUESTIONS, build_store  # the same synthetic store as the search bench
from web import p95, peak_rss_mb, print_result

HERE = Path(__file__).resolve().parent

WARM_UP = 5
CHAT = 4242  # a private chat: positive id, the user is the chat


def start_bot(directory: str, api: BotApi) -> subprocess.Popen[bytes]:
    """`bot run` on the store in `directory`, talking to `api`; returns once it answers `/help`."""
    config = Path(directory) / "bench.yaml"
    config.write_text(f"sources: []\ntelegram:\n  base_url: {api.base_url}\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", directory, "run"]
    environment = {**os.environ, "PYTHONPATH": str(HERE.parent), "TELEGRAM_BOT_TOKEN": TOKEN}
    process = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    api.queue_message(CHAT, CHAT, "/help")
    try:
        api.wait_for_sent(CHAT, 1, timeout=300)
    except AssertionError:
        process.kill()
        raise SystemExit("the bot did not answer /help within 300 s") from None
    return process


def round_trip(api: BotApi, text: str) -> float:
    """Milliseconds from queuing `text` to the bot's reply being recorded."""
    before = len(api.sent(CHAT))
    began = time.perf_counter()
    api.queue_message(CHAT, CHAT, text)
    api.wait_for_sent(CHAT, before + 1, timeout=60)
    return (time.perf_counter() - began) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic items stored (default 100000)")
    parser.add_argument("--requests", type=int, default=200, help="timed questions, and as many /help (default 200)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    api = BotApi().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ask-") as directory:
            embedder = UseEmbedder(threads=1)
            build_s = build_store(args.n, embedder.dim, directory, embedder)
            bot = start_bot(directory, api)
            try:
                asks, floor = [], []
                for number in range(WARM_UP + args.requests):  # interleaved: both see the same load
                    asks.append(round_trip(api, f"/ask {QUESTIONS[number % len(QUESTIONS)]}"))
                    floor.append(round_trip(api, "/help"))
                rss = peak_rss_mb(bot.pid)
            finally:
                bot.terminate()
                bot.wait(60)
    finally:
        api.stop()
    asks, floor = asks[WARM_UP:], floor[WARM_UP:]
    result = {
        "items": args.n,
        "build_s": round(build_s, 1),
        "requests": args.requests,
        "ask_p50_ms": round(statistics.median(asks), 1),
        "ask_p95_ms": round(p95(asks), 1),
        "help_floor_p50_ms": round(statistics.median(floor), 1),
        "help_floor_p95_ms": round(p95(floor), 1),
        "ask_minus_floor_p95_ms": round(p95(asks) - p95(floor), 1),
        "bot_peak_rss_mb": round(rss, 1),
        "target": "/ask p95 < 100 ms at 100k items",
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
